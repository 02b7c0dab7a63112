"""Running a check under the torch backend, shared by the tests of lstmgen's torch seam (test_fused, test_torchstep).

Each check is a script run in a fresh process with KERAS_BACKEND=torch (the backend is fixed at import) that prints
one JSON object as its last line."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed (pip install torch)"
)


def run_torch(script: str, *args: str) -> dict:
    """Run `script` with `args` under KERAS_BACKEND=torch; its last line of output, parsed as JSON."""
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "torch"},
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
