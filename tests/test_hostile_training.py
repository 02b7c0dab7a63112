"""Issue 17, part C: exact step accounting (steps_per_execution, a changed epoch length on resume), run-directory
write failures and damaged checkpoint states as one clear line, and a stop agreed by every process of a job."""

import csv
import errno
import json
import os

import pytest
from click.testing import CliRunner

from conftest import TINY_TEXT
from contract import fails
from lstmgen.cli import cli
from lstmgen.rundir import RunDir

TINY = ["--units", "16", "--layers", "1", "--embedding-dim", "8", "--seq-len", "16", "--batch-size", "8",
        "--seed", "3", "--checkpoint-minutes", "0", "--sample-every-epochs", "0", "--no-tensorboard",
        "--mixed-precision", "off", "-q"]


@pytest.fixture()
def corpus(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TINY_TEXT)
    return path


def train(*args):
    return CliRunner().invoke(cli, ["train", *map(str, args)])


def metrics(run):
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def newest(run):
    return RunDir(run).checkpoints()[0][1]


def optimizer_iterations(model_path) -> int:
    """The optimizer's step counter saved in a .keras file: the learning-rate schedule's position."""
    from lstmgen.backend import keras

    model = keras.saving.load_model(model_path, compile=True)
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def log_steps(run):
    """(epoch, step) of every per-step line of train.log."""
    out = []
    for line in (run / "train.log").read_text().splitlines():
        parts = line.split()
        if "step" in parts and "loss" in parts and "end" not in parts:
            i = parts.index("step")
            out.append((int(parts[i - 1].split("/")[0]), int(parts[i + 1].split("/")[0])))
    return out


# --- steps_per_execution ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("steps, spe", [(10, 4), (3, 1000), (6, 3), (5, 2)])
def test_steps_per_execution_keeps_every_count_exact(corpus, tmp_path, steps, spe):
    run = tmp_path / "run"
    result = train(corpus, "-o", run, "--epochs", "2", "--steps-per-epoch", steps, "--steps-per-execution", spe,
                   "--log-every-steps", "1", "--checkpoint-steps", "4", "--keep-checkpoints", "20", *TINY)
    assert result.exit_code == 0, result.output
    state = newest(run)
    assert (state["epoch"], state["step"], state["global_step"]) == (2, 0, 2 * steps)
    assert [int(r["global_step"]) for r in metrics(run)] == [steps, 2 * steps]
    assert [int(r["epoch"]) for r in metrics(run)] == [1, 2]
    names = sorted(p.name for p in (run / "checkpoints").glob("*.json"))
    got = [int(n[5:14]) for n in names]
    assert max(got) == 2 * steps and all(g <= 2 * steps for g in got), names
    for path, st in RunDir(run).checkpoints():
        assert int(path.name[5:14]) == st["global_step"] == st["epoch"] * steps + st["step"]
        assert 0 <= st["step"] < steps
    assert optimizer_iterations(run / "latest.keras") == 2 * steps  # the LR schedule's position
    logged = log_steps(run)
    assert logged and all(1 <= s <= steps for _, s in logged), logged


def test_resume_mid_epoch_with_steps_per_execution_stays_consistent(corpus, tmp_path, monkeypatch):
    from lstmgen.progress import TrainMonitor

    run = tmp_path / "run"
    args = ["--epochs", "2", "--steps-per-epoch", "7", "--steps-per-execution", "3", *TINY]
    original = TrainMonitor.on_train_batch_end

    def stop_once(self, batch, logs=None):
        if self.trainer.state["epoch"] == 0 and not getattr(self.stop, "_done", 0):
            self.stop.reason, self.stop._done = "SIGINT", 1
        return original(self, batch, logs)

    monkeypatch.setattr(TrainMonitor, "on_train_batch_end", stop_once)
    assert train(corpus, "-o", run, *args).exit_code == 3
    state = newest(run)
    assert (state["epoch"], state["step"], state["global_step"]) == (0, 3, 3)
    assert optimizer_iterations(run / "latest.keras") == 3
    monkeypatch.undo()
    result = train(run, *args)
    assert result.exit_code == 0, result.output
    state = newest(run)
    assert (state["epoch"], state["global_step"]) == (2, 14)
    assert [int(r["global_step"]) for r in metrics(run)] == [7, 14]
    assert optimizer_iterations(run / "latest.keras") == 14
