"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel (tiny parameters, a few seconds of
training)."""

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).parent.parent / "examples" / "quickstart.ipynb"
TINY = """SOURCE = "builtin:reber"
CONFIG = "smoke"
EPOCHS = 2
OVERRIDES = {"units": 16, "layers": 1, "embedding_dim": 8, "seq_len": 16, "batch_size": 8, "steps_per_epoch": 5,
             "mixed_precision": "off", "sample_length": 20}
OUT = "runs/quickstart"
"""


def test_quickstart_notebook_runs_in_a_kernel(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "the notebook has one cell tagged 'parameters'"
    params[0].source = TINY
    env_cwd = os.getcwd()
    try:
        nbclient.NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        os.chdir(env_cwd)
    outputs = [
        "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in c.get("outputs", []))
        for c in nb.cells
        if c.cell_type == "code"
    ]
    text = "\n".join(outputs)
    assert "finished" in text and "run would end at" in text and "--- temperature 1.1 ---" in text
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert (tmp_path / "runs" / "quickstart" / "best.keras").is_file()
