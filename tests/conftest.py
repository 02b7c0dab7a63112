import os
import tempfile

# Keep every test's caches (prepared corpora, downloads, builtin texts) out of the user's home. Set at import
# time so module- and session-scoped fixtures see it too.
os.environ["LSTMGEN_CACHE"] = tempfile.mkdtemp(prefix="lstmgen-test-cache-")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
