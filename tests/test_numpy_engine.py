"""Generation without TensorFlow (issue 14): the NumPy engine reads a .keras file's weights with h5py, checked by
layer name and shape against the file's own config; `generate`, `info` and `eval --no-loss` never import TF/Keras."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from contract import fails
from lstmgen.errors import LstmgenError

ROOT = Path(__file__).resolve().parents[1]
# Runs the CLI, then (at exit, whatever the exit code) prints which heavy modules it imported on stdout's last line.
PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('\\nHEAVY=' + ','.join(sorted({m.split('.')[0] for m in sys.modules\n"
    "    if m.split('.')[0] in ('tensorflow', 'keras', 'jax', 'torch')}))))\n"
    "from lstmgen.cli.main import main\n"
    "main(sys.argv[1:])\n"
)


def run_cli(*args: str) -> tuple[subprocess.CompletedProcess, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    heavy = proc.stdout.rstrip().rsplit("HEAVY=", 1)[-1]
    return proc, heavy


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "{run}", "--length", "50", "--seed", "1"],
        ["generate", "{run}", "--length", "20", "--num-samples", "3", "--engine", "numpy", "--json"],
        ["info", "{run}"],
        ["eval", "{run}", "--no-loss", "--generate", "2", "--length", "40", "--seed", "1"],
    ],
    ids=["generate", "generate-numpy-json", "info", "eval-no-loss"],
)
def test_commands_do_not_import_tensorflow(tiny_run, args):
    proc, heavy = run_cli(*(a.format(run=tiny_run) for a in args))
    assert proc.returncode == 0, proc.stderr
    assert heavy == "", f"imported {heavy}"


def test_same_text_as_the_keras_loaded_numpy_engine(tiny_run):
    """The h5py-read step model is the Keras-loaded one, array for array, so a seed gives the same text."""
    from lstmgen.data.vocab import Vocab
    from lstmgen.generation.generate import load_keras_model
    from lstmgen.generation.sample import Sampling, StepModel, generate_text
    from lstmgen.generation.weights import read_step_model

    path = tiny_run / "best.keras"
    old, new = StepModel.from_keras(load_keras_model(path)), read_step_model(path)
    old_arrays = [*old.layers, (old.dense_kernel, old.dense_bias)]
    new_arrays = [*new.layers, (new.dense_kernel, new.dense_bias)]
    for a, b in zip(old_arrays, new_arrays, strict=True):
        for x, y in zip(a, b, strict=True):
            assert (x is None and y is None) or (x.dtype == y.dtype and np.array_equal(x, y))
    vocab = Vocab.load(tiny_run / "vocab.json")
    prime = vocab.encode("The quick", unknown="map")
    want = generate_text(old, vocab.decode, prime, 200, 2, Sampling(temperature=0.9, top_p=0.95), 7)
    proc, _ = run_cli(
        "generate",
        str(tiny_run),
        "--length",
        "200",
        "--num-samples",
        "2",
        "--seed",
        "7",
        "--temperature",
        "0.9",
        "--top-p",
        "0.95",
        "--prime",
        "The quick",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.rsplit("\nHEAVY=", 1)[0])["samples"]
    assert got == ["The quick" + t for t in want]


def rewrite(src: Path, dst: Path, config=None, weights=None) -> Path:
    """A copy of a .keras file with config.json edited by `config(dict)` and the HDF5 weights by
    `weights(h5py.File)`."""
    import h5py

    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    if config:
        cfg = json.loads(members["config.json"])
        config(cfg)
        members["config.json"] = json.dumps(cfg).encode()
    if weights:
        h5path = dst.with_suffix(".h5")
        h5path.write_bytes(members["model.weights.h5"])
        with h5py.File(h5path, "r+") as f:
            weights(f)
        members["model.weights.h5"] = h5path.read_bytes()
        h5path.unlink()
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    return dst


def layer_cfg(cfg, name):
    return next(layer["config"] for layer in cfg["config"]["layers"] if layer["config"]["name"] == name)


def set_vars_name(f, old, new):
    for g in f["layers"].values():
        if "vars" in g and g["vars"].attrs.get("name") == old:
            g["vars"].attrs["name"] = new


@pytest.mark.parametrize(
    "config,weights,match",
    [
        (
            lambda c: layer_cfg(c, "lstm_0").update(units=32),
            None,
            r"layer 'lstm_0' weight 0 has shape \(8, 64\), the config implies \(8, 128\)",
        ),
        (lambda c: layer_cfg(c, "embedding").update(input_dim=40), None, r"layer 'embedding' weight 0 has shape"),
        (None, lambda f: set_vars_name(f, "lstm_0", "lstm_7"), r"its weights have no layer named 'lstm_0'"),
        (None, lambda f: set_vars_name(f, "logits", "head"), r"its weights have no layer named 'logits'"),
        (
            lambda c: layer_cfg(c, "lstm_0").update(recurrent_activation="hard_sigmoid"),
            None,
            r"not a standard tanh/sigmoid LSTM",
        ),
        (
            lambda c: [
                layer.update(class_name="GRU") for layer in c["config"]["layers"] if layer["class_name"] == "LSTM"
            ],
            None,
            r"expected embedding → LSTM → logits layers, found Embedding → GRU → Dense",
        ),
    ],
    ids=["units", "vocab", "lstm-name", "dense-name", "activation", "gru"],
)
def test_weights_that_do_not_match_the_config_are_one_clear_line(tiny_run, tmp_path, config, weights, match):
    from lstmgen.generation.weights import read_step_model

    bad = rewrite(tiny_run / "best.keras", tmp_path / "run" / "bad.keras", config, weights)
    with pytest.raises(LstmgenError, match=match):
        read_step_model(bad)
    run = tmp_path / "run"
    for name in ("run.json", "vocab.json", "config.yaml"):
        shutil.copy(tiny_run / name, run / name)
    fails(["generate", str(bad), "--length", "5"], r"is not an lstmgen model: .*" + match, untouched=[run])


def test_damaged_weights_member_is_one_clear_line(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    with zipfile.ZipFile(tiny_run / "best.keras") as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["model.weights.h5"] = members["model.weights.h5"][:400]
    (run / "best.keras").unlink()
    with zipfile.ZipFile(run / "best.keras", "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    fails(
        ["generate", str(run), "--length", "5"],
        r"cannot read model .*best.keras.*damaged or not an lstmgen model",
        untouched=[run],
    )


def test_auto_engine_needs_no_backend_without_a_gpu_device(monkeypatch):
    from lstmgen.generation.devicestep import pick_engine
    from lstmgen.runtime.hardware import gpu_device_present

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not gpu_device_present()
    assert pick_engine("auto") == "numpy"
