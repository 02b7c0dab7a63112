"""The same CLI end to end on a second Keras backend: prepare → train → stop → resume → generate under JAX (and
torch where it is installed), and the run crossing backends: sampled and continued under TensorFlow, then continued
under the other backend again, with no conversion step."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from conftest import reber_lines
from lstmgen.cli.main import cli
from lstmgen.data import reber

OTHER_BACKENDS = [b for b in ("jax", "torch") if importlib.util.find_spec(b)]
pytestmark = pytest.mark.skipif(
    not OTHER_BACKENDS, reason="no second Keras backend installed (pip install -e '.[jax]')"
)
GENERATE = ["--num-samples", "32", "--length", "400", "--temperature", "1.0", "--prime", "\n", "--seed", "1"]


def env_for(backend: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LSTMGEN_DEBUG", "XLA_FLAGS")}
    env["KERAS_BACKEND"] = backend
    return env


def lstmgen(backend: str, *args, expect: int = 0, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "lstmgen", *map(str, args)],
        env=env_for(backend),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == expect, proc.stderr[-3000:]
    return proc


def in_process(*args):
    result = CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def newest_state(run) -> dict:
    return json.loads(sorted((run / "checkpoints").glob("ckpt-*.json"))[-1].read_text())


def stop_after_first_checkpoint(backend: str, args: list, run) -> str:
    """Start `lstmgen train`, send SIGTERM once a mid-epoch checkpoint is committed; it must exit 3."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmgen", "train", *map(str, args)],
        env=env_for(backend),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not list((run / "checkpoints").glob("ckpt-*.json")):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err[-3000:]
    return err


@pytest.fixture(scope="module", params=OTHER_BACKENDS)
def other(request, tmp_path_factory):
    backend = request.param
    base = tmp_path_factory.mktemp(f"backend_{backend}")
    prep, run = base / "prep", base / "run"
    in_process("prepare", "builtin:reber", "-o", prep, "-q")
    args = [prep, "--config", "smoke", "-o", run, "--seed", "7", "--checkpoint-steps", "100", "-q"]
    err = stop_after_first_checkpoint(backend, args, run)
    stopped = newest_state(run)
    lstmgen(backend, "train", run, "-q")  # resume under the same backend, to the end of the smoke config
    return {"backend": backend, "run": run, "stopped": stopped, "stop_stderr": err}


@pytest.mark.slow
def test_train_stop_resume_under_the_other_backend(other):
    run, stopped = other["run"], other["stopped"]
    assert 0 < stopped["global_step"] < 900 and stopped["epoch"] < 6, stopped
    assert "interrupted epoch=" in (run / "train.log").read_text()
    done = newest_state(run)
    assert done["epoch"] == 6 and done["global_step"] == 900
    assert len(done["history"]) == 6
    assert done["history"][-1]["val_loss"] < 0.6  # the smoke config reaches ≈ 0.4 nats; untrained is ≈ 2.1


@pytest.mark.slow
def test_generates_under_the_other_backend_and_tensorflow_identically(other):
    run = other["run"]
    theirs = lstmgen(other["backend"], "generate", run, *GENERATE).stdout
    lines = reber_lines(theirs)
    assert len(lines) > 200 and reber.valid_fraction(lines) >= 0.95
    ours = in_process("generate", run, *GENERATE).stdout  # this process runs TensorFlow
    assert ours == theirs


@pytest.mark.slow
def test_run_continues_across_backends_both_ways(other):
    run, backend = other["run"], other["backend"]
    in_process("train", run, "--epochs", "7", "-q")  # under TensorFlow: weights and Adam state load as they are
    after_tf = newest_state(run)
    assert after_tf["epoch"] == 7 and after_tf["global_step"] == 1050
    lstmgen(backend, "train", run, "--epochs", "8", "-q")
    back = newest_state(run)
    assert back["epoch"] == 8 and back["global_step"] == 1200
    val = [h["val_loss"] for h in back["history"]]
    assert max(val[5:]) < val[0] and val[-1] < 0.6, val  # continuing did not restart or derail training


@pytest.mark.slow
def test_fine_tunes_from_it_under_both_backends(other, tmp_path):
    """`train --from` the other backend's run, under that backend and under TensorFlow: the grammar carries over
    (the letter X written as x starts from X's weights)."""
    text = tmp_path / "renamed.txt"
    text.write_text(reber.corpus(n=2000, seed=3).replace("X", "x"))
    for backend in (other["backend"], "tensorflow"):
        out = tmp_path / f"ft-{backend}"
        lstmgen(
            backend,
            "train",
            text,
            "--from",
            other["run"],
            "-o",
            out,
            "--epochs",
            "1",
            "--steps-per-epoch",
            "20",
            "--seed",
            "1",
            "--sample-every-epochs",
            "0",
            "--no-tensorboard",
            "-q",
        )
        assert json.loads((out / "run.json").read_text())["base"]["lookalike"] == {"x": "X"}
        val = float((out / "metrics.csv").read_text().splitlines()[1].split(",")[6])
        assert val < 0.8, (backend, val)  # the base is at ≈ 0.4 nats; from scratch 20 steps leave ≈ 2
