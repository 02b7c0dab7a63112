"""Checkpoint guarantees: fallback past damaged checkpoints, failed saves, stale temp files, pruning, safe loading."""

import errno
import json

import numpy as np
import pytest
from click.testing import CliRunner

from lstmgen.cli.main import cli
from lstmgen.errors import LstmgenError
from lstmgen.runs.rundir import RunDir

TINY = [
    "--units",
    "16",
    "--layers",
    "1",
    "--embedding-dim",
    "8",
    "--seq-len",
    "16",
    "--batch-size",
    "8",
    "--seed",
    "3",
    "--checkpoint-minutes",
    "0",
    "-q",
]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("abcde fghij klmno pqrst uvwxy z. " * 300)
    return path


def train(*args):
    result = CliRunner().invoke(cli, ["train", *map(str, args)])
    return result


def test_falls_back_to_previous_checkpoint_and_says_so(corpus, tmp_path):
    run = tmp_path / "run"
    assert train(corpus, "-o", run, "--epochs", "2", "--steps-per-epoch", "4", *TINY).exit_code == 0
    ckpts = RunDir(run).checkpoints()
    assert [s.global_step for _, s in ckpts] == [8, 4]
    ckpts[0][0].write_bytes(b"PK\x03\x04 truncated")
    result = train(run, "--epochs", "3", "--steps-per-epoch", "4", *TINY)
    assert result.exit_code == 0, result.output
    assert "unreadable" in result.stderr and "resuming from ckpt-000000004.keras" in result.stderr
    state = RunDir(run).checkpoints()[0][1]
    # epoch 2 is redone from the epoch-1 checkpoint, then epoch 3
    assert state.epoch == 3 and state.global_step == 12


def test_disk_full_while_saving_keeps_previous_checkpoints(corpus, tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert train(corpus, "-o", run, "--epochs", "1", "--steps-per-epoch", "4", *TINY).exit_code == 0
    before = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}

    from lstmgen.runtime.backend import keras

    def full_disk(self, path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    result = train(run, "--epochs", "2", "--steps-per-epoch", "4", *TINY)
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr and "intact" in result.stderr
    after = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    assert after == before  # nothing half-written is visible, nothing was lost


def test_stale_temp_files_are_cleaned_on_start(corpus, tmp_path):
    run = tmp_path / "run"
    assert train(corpus, "-o", run, "--epochs", "1", "--steps-per-epoch", "2", *TINY).exit_code == 0
    stale = run / "checkpoints" / ".tmp-ckpt-000000009-abc.keras"
    stale.write_bytes(b"half a checkpoint")
    result = train(run, "--epochs", "2", "--steps-per-epoch", "2", *TINY)
    assert result.exit_code == 0 and not stale.exists()
    assert "temporary file" in result.stderr


def test_keeps_last_k_and_the_best(corpus, tmp_path):
    run = tmp_path / "run"
    result = train(corpus, "-o", run, "--epochs", "6", "--steps-per-epoch", "2", "--keep-checkpoints", "2", *TINY)
    assert result.exit_code == 0
    ckpts = RunDir(run).checkpoints()
    steps = [s.global_step for _, s in ckpts]
    best_epoch = ckpts[0][1].best_epoch
    assert steps[:2] == [12, 10]
    assert 2 * best_epoch in steps and len(steps) <= 3
    assert (run / "best.keras").samefile(RunDir(run).checkpoint_path(2 * best_epoch))
    history = ckpts[0][1].history
    assert len(history) == 6 and [h["epoch"] for h in history] == list(range(1, 7))


def test_checkpoint_state_is_complete(corpus, tmp_path):
    run = tmp_path / "run"
    assert train(corpus, "-o", run, "--epochs", "1", "--steps-per-epoch", "3", *TINY).exit_code == 0
    state = json.loads((RunDir(run).checkpoint_path(3).with_suffix(".json")).read_text())
    for key in (
        "epoch",
        "step",
        "global_step",
        "best_val_loss",
        "best_epoch",
        "history",
        "seed",
        "config",
        "train_seconds",
        "wall_seconds",
    ):
        assert key in state, key
    assert state["config"]["units"] == 16 and state["seed"] == 3


def test_lambda_layers_are_never_executed(corpus, tmp_path):
    """A .keras file carrying code (a Lambda layer) is refused by safe_mode, not run."""
    run = tmp_path / "run"
    assert train(corpus, "-o", run, "--epochs", "1", "--steps-per-epoch", "2", *TINY).exit_code == 0
    from lstmgen.runtime.backend import keras

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(30, 4, name="embedding")(inputs)
    x = keras.layers.Lambda(lambda t: t * 2)(x)
    evil = keras.Model(inputs, keras.layers.Dense(30, name="logits")(x))
    (run / "best.keras").unlink()
    evil.save(run / "best.keras")
    result = CliRunner().invoke(cli, ["generate", str(run), "--length", "5"])
    assert result.exit_code == 1 and "is not an lstmgen model" in result.stderr  # read as data; never loaded
    assert "Lambda" in result.stderr


def test_resume_continues_the_learning_rate_schedule(corpus, tmp_path):
    """The schedule position lives in the optimizer's iteration counter, which the checkpoint restores."""
    run = tmp_path / "run"
    args = ["--steps-per-epoch", "5", "--warmup-steps", "2", *TINY]
    assert train(corpus, "-o", run, "--epochs", "2", *args).exit_code == 0
    assert train(run, "--epochs", "4", *args).exit_code == 0
    straight = tmp_path / "straight"
    assert train(corpus, "-o", straight, "--epochs", "4", *args).exit_code == 0
    lr_resumed = [h["learning_rate"] for h in RunDir(run).checkpoints()[0][1].history]
    lr_straight = [h["learning_rate"] for h in RunDir(straight).checkpoints()[0][1].history]
    # epochs 3-4 follow the 4-epoch schedule from the restored step; the first two used the 2-epoch one
    assert np.allclose(lr_resumed[2:], lr_straight[2:])


def test_user_error_is_raised_for_unwritable_run_dir(tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(LstmgenError, match="not writable"):
        RunDir(tmp_path / "r").create({})


def stop_at(monkeypatch, epoch: int, step: int):
    """Make the trainer see a SIGINT right after the given step (what the signal handler does)."""
    from lstmgen.training.monitor import TrainMonitor

    original = TrainMonitor.on_train_batch_end

    def patched(self, batch, logs=None):
        st = self.trainer.state
        if st.epoch + 1 == epoch and self.start_step + batch + 1 == step and not getattr(self.stop, "_done", 0):
            self.stop.reason, self.stop._done = "SIGINT", 1
        return original(self, batch, logs)

    monkeypatch.setattr(TrainMonitor, "on_train_batch_end", patched)


def metrics(run):
    import csv

    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_signal_on_the_last_step_still_ends_the_epoch(corpus, tmp_path, monkeypatch):
    run = tmp_path / "run"
    stop_at(monkeypatch, epoch=1, step=4)
    result = train(corpus, "-o", run, "--epochs", "2", "--steps-per-epoch", "4", *TINY)
    assert result.exit_code == 3
    state = RunDir(run).checkpoints()[0][1]
    assert (state.epoch, state.step, state.status) == (1, 0, "interrupted")
    assert [r["epoch"] for r in metrics(run)] == ["1"]
    monkeypatch.undo()
    assert train(run, "--epochs", "2", "--steps-per-epoch", "4", *TINY).exit_code == 0
    assert [r["epoch"] for r in metrics(run)] == ["1", "2"]


def test_epoch_loss_and_time_span_a_mid_epoch_resume(corpus, tmp_path, monkeypatch):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    args = ["--epochs", "1", "--steps-per-epoch", "6", "--dropout", "0.2", *TINY]  # dropout masks resume too
    assert train(corpus, "-o", straight, *args).exit_code == 0
    stop_at(monkeypatch, epoch=1, step=3)
    assert train(corpus, "-o", resumed, *args).exit_code == 3
    monkeypatch.undo()
    assert train(resumed, *args).exit_code == 0
    a, b = metrics(straight)[0], metrics(resumed)[0]
    assert float(a["val_loss"]) == float(b["val_loss"])
    assert abs(float(a["loss"]) - float(b["loss"])) < 1e-4  # mean over all 6 steps, not the last 3
    assert float(b["epoch_seconds"]) > 0


def test_run_killed_while_being_created_can_start_over(corpus, tmp_path):
    from lstmgen.runs.runfiles import MARKER_NAME

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / MARKER_NAME).write_text('{"format": "lstmgen-run", "version": 1}\n')  # what a kill before run.json
    (run / "config.yaml").write_text("units: 16\n")  # leaves: lstmgen's marker (written first), its own files
    assert train(corpus, "-o", run, "--epochs", "1", "--steps-per-epoch", "2", *TINY).exit_code == 0
    assert (run / "run.json").is_file() and (run / "vocab.json").is_file()


def test_orphan_checkpoint_halves_are_removed(corpus, tmp_path):
    run = tmp_path / "run"
    assert train(corpus, "-o", run, "--epochs", "1", "--steps-per-epoch", "2", *TINY).exit_code == 0
    orphan_model = run / "checkpoints" / "ckpt-000000001.keras"
    orphan_state = run / "checkpoints" / "ckpt-000000000.json"
    orphan_model.write_bytes(b"uncommitted")
    orphan_state.write_text("{}")
    assert train(run, "--epochs", "2", "--steps-per-epoch", "2", *TINY).exit_code == 0
    assert not orphan_model.exists() and not orphan_state.exists()
    assert len(RunDir(run).checkpoints()) == 2


@pytest.mark.parametrize("content", [None, "layers: [\n", "- a list\n", b"\xff\xfe\x00 not utf-8"])
def test_missing_or_broken_config_yaml_on_resume_is_one_clear_line(corpus, tmp_path, content):
    run = tmp_path / "run"
    assert train(corpus, "-o", run, "--epochs", "1", "--steps-per-epoch", "2", *TINY).exit_code == 0
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    if content is None:
        (run / "config.yaml").unlink()
    elif isinstance(content, bytes):
        (run / "config.yaml").write_bytes(content)
    else:
        (run / "config.yaml").write_text(content)
    result = train(run, "--epochs", "2", "--steps-per-epoch", "2", *TINY)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "config.yaml" in lines[0] and "-o NEW_DIR" in lines[0], lines
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before  # nothing written or lost
