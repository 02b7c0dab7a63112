import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep every test's caches (prepared corpora, downloads) out of the user's home."""
    monkeypatch.setenv("LSTMGEN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
