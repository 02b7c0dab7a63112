"""Issue 17, part C: exact step accounting (steps_per_execution, a changed epoch length on resume), run-directory
write failures and damaged checkpoint states as one clear line, and a stop agreed by every process of a job."""

import csv
import errno
import itertools
import json
import os

import pytest
from click.testing import CliRunner

from conftest import TINY_TEXT
from contract import fails
from lstmgen.cli.main import cli
from lstmgen.runs.rundir import RunDir
from lstmgen.runtime.backend import NAME as BACKEND
from torchrun import needs_torch, run_torch

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
    "--sample-every-epochs",
    "0",
    "--no-tensorboard",
    "--mixed-precision",
    "off",
    "-q",
]


@pytest.fixture
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
    from lstmgen.runtime.backend import keras

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

# Keras runs one step per call on torch: there more is refused (test_steps_per_execution_on_torch_is_one_clear_line)
several_steps = pytest.mark.skipif(BACKEND == "torch", reason="Keras runs one step per execution on torch")


@several_steps
@pytest.mark.parametrize("steps, spe", [(10, 4), (3, 1000), (6, 3), (5, 2)])
def test_steps_per_execution_keeps_every_count_exact(corpus, tmp_path, steps, spe):
    run = tmp_path / "run"
    result = train(
        corpus,
        "-o",
        run,
        "--epochs",
        "2",
        "--steps-per-epoch",
        steps,
        "--steps-per-execution",
        spe,
        "--log-every-steps",
        "1",
        "--checkpoint-steps",
        "4",
        "--keep-checkpoints",
        "20",
        *TINY,
    )
    assert result.exit_code == 0, result.output
    state = newest(run)
    assert (state.epoch, state.step, state.global_step) == (2, 0, 2 * steps)
    assert [int(r["global_step"]) for r in metrics(run)] == [steps, 2 * steps]
    assert [int(r["epoch"]) for r in metrics(run)] == [1, 2]
    # checkpoints at each epoch end and at the first execution end past each multiple of --checkpoint-steps 4
    ends, expected = [], set()
    for epoch in range(2):
        done = 0
        while done < steps:
            done = min(done + spe, steps)
            ends.append(epoch * steps + done)
    for before, after in itertools.pairwise([0, *ends]):
        if after % steps == 0 or after // 4 > before // 4:
            expected.add(after)
    names = sorted(p.name for p in (run / "checkpoints").glob("*.json"))
    assert {int(n[5:14]) for n in names} == expected, names
    for path, st in RunDir(run).checkpoints():
        assert int(path.name[5:14]) == st.global_step == st.epoch * steps + st.step
        assert 0 <= st.step < steps
    assert optimizer_iterations(run / "latest.keras") == 2 * steps  # the LR schedule's position
    logged = log_steps(run)
    assert logged and all(1 <= s <= steps for _, s in logged), logged


@several_steps
def test_resume_mid_epoch_with_steps_per_execution_stays_consistent(corpus, tmp_path, monkeypatch):
    from lstmgen.training.monitor import TrainMonitor

    run = tmp_path / "run"
    args = ["--epochs", "2", "--steps-per-epoch", "7", "--steps-per-execution", "3", *TINY]
    original = TrainMonitor.on_train_batch_end

    def stop_once(self, batch, logs=None):
        if self.trainer.state.epoch == 0 and not getattr(self.stop, "_done", 0):
            self.stop.reason, self.stop._done = "SIGINT", 1
        return original(self, batch, logs)

    monkeypatch.setattr(TrainMonitor, "on_train_batch_end", stop_once)
    assert train(corpus, "-o", run, *args).exit_code == 3
    state = newest(run)
    assert (state.epoch, state.step, state.global_step) == (0, 3, 3)
    assert optimizer_iterations(run / "latest.keras") == 3
    monkeypatch.undo()
    result = train(run, *args)
    assert result.exit_code == 0, result.output
    state = newest(run)
    assert (state.epoch, state.global_step) == (2, 14)
    assert [int(r["global_step"]) for r in metrics(run)] == [7, 14]
    assert optimizer_iterations(run / "latest.keras") == 14


# --- a changed epoch length on resume -----------------------------------------------------------------------------


def stop_at(monkeypatch, epoch: int, step: int):
    """A SIGINT seen right after the given step (what the signal handler does)."""
    from lstmgen.training.monitor import TrainMonitor

    original = TrainMonitor.on_train_batch_end

    def patched(self, batch, logs=None):
        if (
            self.trainer.state.epoch + 1 == epoch
            and self.start_step + batch + 1 == step
            and not getattr(self.stop, "_done", 0)
        ):
            self.stop.reason, self.stop._done = "SIGINT", 1
        return original(self, batch, logs)

    monkeypatch.setattr(TrainMonitor, "on_train_batch_end", patched)


def interrupted_run(corpus, run, monkeypatch, steps, at):
    stop_at(monkeypatch, epoch=1, step=at)
    assert train(corpus, "-o", run, "--epochs", "3", "--steps-per-epoch", steps, *TINY).exit_code == 3
    monkeypatch.undo()
    assert (newest(run).epoch, newest(run).step) == (0, at)


SPE_ON_TORCH = r"""
import json, sys
from click.testing import CliRunner
from lstmgen.cli.main import cli
result = CliRunner().invoke(cli, ["train", sys.argv[1], "-o", sys.argv[2], "--steps-per-execution", "4"])
print(json.dumps({"code": result.exit_code, "stderr": result.stderr, "output": result.output}))
"""


@needs_torch
def test_steps_per_execution_on_torch_is_one_clear_line(corpus, tmp_path):
    run = tmp_path / "run"
    r = run_torch(SPE_ON_TORCH, str(corpus), str(run))
    lines = r["stderr"].strip().splitlines()
    assert r["code"] == 1 and len(lines) == 1, r
    assert lines[0].startswith("lstmgen: error: --steps-per-execution 4 needs the tensorflow or jax backend"), r
    assert "internal error" not in r["output"] and "Traceback" not in r["output"], r
    assert not run.exists()  # refused before the run was made


def test_shorter_epochs_on_resume_close_the_interrupted_epoch_first(corpus, tmp_path, monkeypatch):
    run = tmp_path / "run"
    interrupted_run(corpus, run, monkeypatch, steps=12, at=9)  # stopped at step 9 of 12, resumed with 5
    result = train(run, "--epochs", "3", "--steps-per-epoch", "5", *TINY[:-1])
    assert result.exit_code == 0, result.output
    assert "epoch 1 already ran 9 steps, at least the new --steps-per-epoch 5: it ends now" in result.stderr
    rows = metrics(run)
    assert [(int(r["epoch"]), int(r["global_step"])) for r in rows] == [(1, 9), (2, 14), (3, 19)]
    assert all(r["val_loss"] for r in rows)  # the closed epoch was validated
    state = newest(run)
    assert (state.epoch, state.step, state.global_step) == (3, 0, 19)
    assert optimizer_iterations(run / "latest.keras") == 19
    assert "epoch 1/3 end steps 9/9" in (run / "train.log").read_text()


def test_longer_epochs_on_resume_extend_the_interrupted_epoch(corpus, tmp_path, monkeypatch):
    run = tmp_path / "run"
    interrupted_run(corpus, run, monkeypatch, steps=5, at=3)  # stopped at step 3 of 5, resumed with 8
    result = train(run, "--epochs", "3", "--steps-per-epoch", "8", *TINY[:-1])
    assert result.exit_code == 0, result.output
    assert "epoch 1 continues to 8 steps (was 5)" in result.stderr
    assert [(int(r["epoch"]), int(r["global_step"])) for r in metrics(run)] == [(1, 8), (2, 16), (3, 24)]
    assert optimizer_iterations(run / "latest.keras") == 24


def test_changed_epoch_length_keeps_one_schedule_over_the_whole_run(corpus, tmp_path, monkeypatch):
    """The warm-up + cosine schedule spans the steps the run will have taken (9 + 5 + 5), not epochs × new length."""
    from lstmgen.config import make_config
    from lstmgen.training.model import learning_rate

    run = tmp_path / "run"
    interrupted_run(corpus, run, monkeypatch, steps=12, at=9)
    assert train(run, "--epochs", "3", "--steps-per-epoch", "5", *TINY).exit_code == 0
    keys = ("learning_rate", "min_learning_rate", "warmup_steps", "lr_schedule")
    cfg = make_config(None, {k: v for k, v in newest(run).config.items() if k in keys})
    schedule = learning_rate(cfg, 19)
    from lstmgen.runtime.backend import keras

    lr = [float(r["learning_rate"]) for r in metrics(run)]
    want = [float(keras.ops.convert_to_numpy(schedule(s))) for s in (9, 14, 19)]
    assert lr == pytest.approx(want, rel=1e-5)


# --- damaged checkpoint states ------------------------------------------------------------------------------------

DAMAGE = {
    "epoch not a number": lambda s: {**s, "epoch": "x"},
    "global_step null": lambda s: {**s, "global_step": None},
    "history not a list": lambda s: {**s, "history": {"epoch": 1}},
    "history rows not objects": lambda s: {**s, "history": [1, 2]},
    "step missing": lambda s: {k: v for k, v in s.items() if k != "step"},
    "best_val_loss a string": lambda s: {**s, "best_val_loss": "low"},
    "a list, not an object": lambda s: [s],
}


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    base = tmp_path_factory.mktemp("two")
    (base / "c.txt").write_text(TINY_TEXT)
    assert train(base / "c.txt", "-o", base / "run", "--epochs", "2", "--steps-per-epoch", "3", *TINY).exit_code == 0
    return base / "run"


def damaged_copy(two_epochs, tmp_path, how, which=("ckpt-000000006.json",)):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(two_epochs, run)
    for name in which:
        path = run / "checkpoints" / name
        path.write_text(json.dumps(DAMAGE[how](json.loads(path.read_text()))))
    return run


@pytest.mark.parametrize("how", list(DAMAGE))
def test_damaged_checkpoint_state_falls_back_to_the_previous_one(two_epochs, tmp_path, how):
    run = damaged_copy(two_epochs, tmp_path, how)
    result = train(run, "--epochs", "3", "--steps-per-epoch", "3", *TINY[:-1])
    assert result.exit_code == 0, result.output
    assert "ckpt-000000006.json is damaged" in result.stderr, result.stderr
    assert "resuming from ckpt-000000003.keras" in result.stderr
    state = newest(run)
    assert (state.epoch, state.global_step) == (3, 9)
    assert [int(r["epoch"]) for r in metrics(run)] == [1, 2, 3]


@pytest.mark.parametrize("how", ["epoch not a number", "history rows not objects", "a list, not an object"])
def test_info_and_runs_show_a_run_with_a_damaged_checkpoint(two_epochs, tmp_path, how):
    run = damaged_copy(two_epochs, tmp_path, how)
    result = CliRunner().invoke(cli, ["info", str(run)])
    assert result.exit_code == 0, result.output
    assert "ckpt-000000006" in result.output and "damaged" in result.output, result.output
    data = json.loads(CliRunner().invoke(cli, ["info", str(run), "--json"]).output)
    marked = [c for c in data["checkpoints"] if c.get("damaged")]
    assert [c["file"] for c in marked] == ["checkpoints/ckpt-000000006.json"]
    assert data["global_step"] == 3  # the newest usable checkpoint
    listed = CliRunner().invoke(cli, ["runs", str(tmp_path)])
    assert listed.exit_code == 0 and "run" in listed.output, listed.output


def test_no_usable_checkpoint_is_one_clear_line(two_epochs, tmp_path):
    run = damaged_copy(two_epochs, tmp_path, "epoch not a number", which=("ckpt-000000006.json", "ckpt-000000003.json"))
    fails(
        ["train", str(run), "--epochs", "3", "--steps-per-epoch", "3", *TINY[:-1]],
        r"no checkpoint in .* can be used.*ckpt-000000006\.json is damaged",
        one_line=False,
        untouched=[run / "checkpoints", run / "metrics.csv"],
    )


# --- checkpoints/ deleted, read-only run directory, full disk -----------------------------------------------------


def finished_copy(two_epochs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(two_epochs, run)
    return run


def test_checkpoints_folder_deleted_mid_run_is_made_again(corpus, tmp_path, monkeypatch):
    import shutil

    from lstmgen.training.monitor import TrainMonitor

    run = tmp_path / "run"
    original = TrainMonitor.on_train_batch_end

    def delete_once(self, batch, logs=None):
        if self.trainer.state.epoch == 1 and (run / "checkpoints").is_dir() and not getattr(self, "_gone", 0):
            shutil.rmtree(run / "checkpoints")
            self._gone = 1
        return original(self, batch, logs)

    monkeypatch.setattr(TrainMonitor, "on_train_batch_end", delete_once)
    result = train(corpus, "-o", run, "--epochs", "3", "--steps-per-epoch", "3", *TINY[:-1])
    assert result.exit_code == 0, result.output
    assert "checkpoints/ of" in result.stderr and "made it again" in result.stderr
    assert [s.global_step for _, s in RunDir(run).checkpoints()] == [9, 6]
    monkeypatch.undo()
    assert train(run, "--epochs", "4", "--steps-per-epoch", "3", *TINY).exit_code == 0
    assert (newest(run).epoch, newest(run).global_step) == (4, 12)
    assert [int(r["epoch"]) for r in metrics(run)] == [1, 2, 3, 4]


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_resume_without_checkpoints_over_saved_progress_is_refused(two_epochs, tmp_path, how):
    import shutil

    run = finished_copy(two_epochs, tmp_path)
    shutil.rmtree(run / "checkpoints")
    if how == "emptied":
        (run / "checkpoints").mkdir()
    what = "gone" if how == "deleted" else "empty"
    fails(
        ["train", str(run), "--epochs", "3", "--steps-per-epoch", "3", *TINY],
        rf"run '.*' has trained 2 epochs \(metrics\.csv\) but its checkpoints/ folder is {what}.*-o NEW_DIR",
        untouched=[run],
    )


@pytest.fixture
def read_only_bind():
    """Make a folder read-only for real (a read-only bind mount of itself, as root ignores permission bits)."""
    import subprocess

    mounted = []

    def make(path):
        ok = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True).returncode == 0
        if ok:
            mounted.append(path)
            ok = subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], capture_output=True).returncode == 0
        if not ok:
            pytest.skip("cannot make a read-only bind mount here (needs root and mount rights)")

    yield make
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], check=True)


@pytest.mark.parametrize("where", [".", "checkpoints"])
def test_read_only_run_directory_is_one_clear_line(two_epochs, tmp_path, read_only_bind, where):
    """Really read-only (a bind mount), not simulated."""
    run = finished_copy(two_epochs, tmp_path)
    read_only_bind(run / where)
    fails(
        ["train", str(run), "--epochs", "3", "--steps-per-epoch", "3", *TINY],
        r"cannot write to run directory .*Read-only file system.*make it writable",
        untouched=[run],
    )


def full_disk_on(monkeypatch, name):
    """Simulated ENOSPC: every write of a file called `name` in a run directory fails as on a full disk."""
    from lstmgen.util import atomic

    real = atomic.atomic_path

    def failing(path):
        if os.path.basename(path) == name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path)

    monkeypatch.setattr(atomic, "atomic_path", failing)
    real_log = RunDir.log

    def log(self, message):
        if name == "train.log":
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path / "train.log"))
        return real_log(self, message)

    monkeypatch.setattr(RunDir, "log", log)


# .lock is not among them: it is flock'ed in place (runlock.py) and its JSON is advisory, so a full disk that still
# creates the empty file does not stop a resume; the next real write (config.yaml) reports it.
@pytest.mark.parametrize("name", ["config.yaml", "train.log", "ckpt-000000009.json"])  # the last: first save
def test_full_disk_when_resuming_is_one_clear_line(two_epochs, tmp_path, monkeypatch, name):
    run = finished_copy(two_epochs, tmp_path)
    full_disk_on(monkeypatch, name)
    # after the probe (an empty file fits on a full disk) the resume note can precede the error line
    fails(
        ["train", str(run), "--epochs", "3", "--steps-per-epoch", "3", *TINY],
        r"No space left on device",
        one_line=name == "config.yaml",
        untouched=[run / "checkpoints", run / "metrics.csv"],
    )


# --- a multi-process job agrees on the stop -----------------------------------------------------------------------


def test_stop_decision_is_the_union_of_every_process(monkeypatch):
    from lstmgen.training.job import Job
    from lstmgen.training.stopping import StopFlag

    rows = [[0, 0, 0], [15, 0, 0]]
    gathered = []
    monkeypatch.setattr(Job, "gather", lambda self, values: gathered.append(values) or rows)
    stop = StopFlag(Job(processes=2, process_id=0))
    assert stop.agree(budget_spent=False) == "signal" and stop.reason == "SIGTERM on process 1"
    rows = [[0, 0, 0], [0, 1, 0]]
    assert StopFlag(Job(processes=2, process_id=0)).agree(budget_spent=False) == "budget"
    rows = [[0, 0, 0], [0, 0, 0]]
    assert StopFlag(Job(processes=2, process_id=0)).agree(budget_spent=False) is None
    assert StopFlag().agree(budget_spent=True) == "budget"  # alone: no collective
    # the next agreement is due after AGREE_SECONDS of the slowest process's steps: here 0.1 s → 5 calls later
    stop, gathered[:] = StopFlag(Job(processes=2, process_id=1)), []
    rows = [[0, 0, 100_000], [0, 0, 50_000]]
    stop._since = 0.0  # (any earlier time: the gathered per-step times decide)
    stop.agree(budget_spent=False)
    stop.reason = "SIGINT"
    assert [stop.agree(budget_spent=False) for _ in range(4)] == [None] * 4 and len(gathered) == 1
    assert stop.agree(budget_spent=False) == "signal" and len(gathered) == 2 and gathered[-1][0] == 2
    stop.agree(budget_spent=False, now=True)  # an epoch end: at once on every process
    assert len(gathered) == 3


@pytest.mark.slow
def test_sigterm_to_one_process_stops_the_whole_job_at_one_step(tmp_path):
    """Two JAX processes on 127.0.0.1 form one job; SIGTERM reaches only process 1 (not the chief)."""
    import signal
    import time

    pytest.importorskip("jax")
    from test_distribute import RUN, free_port, lstmgen

    corpus = tmp_path / "c.txt"
    corpus.write_text(TINY_TEXT)
    run, port = tmp_path / "job", free_port()
    env = {"KERAS_BACKEND": "jax", "LSTMGEN_COORDINATOR": f"127.0.0.1:{port}", "LSTMGEN_NUM_PROCESSES": "2"}
    args = [corpus, "-o", run, *RUN, "--epochs", "1", "--steps-per-epoch", "5000", "--log-every-steps", "1"]
    procs = [lstmgen(args, {**env, "LSTMGEN_PROCESS_ID": str(i)}) for i in range(2)]
    try:
        deadline = time.monotonic() + 180
        while not (run / "train.log").exists() or " step 5/" not in (run / "train.log").read_text():
            assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs]
            assert time.monotonic() < deadline, "no training step in time"
            time.sleep(0.05)
        procs[1].send_signal(signal.SIGTERM)
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    errs = [e for _, e in outs]
    assert [p.returncode for p in procs] == [3, 3], errs
    stopped = [next(line for line in e.splitlines() if line.startswith("stopped by")) for e in errs]
    assert "stopped by SIGTERM on process 1 at epoch 1, step" in stopped[0], stopped
    assert stopped[1].startswith("stopped by SIGTERM at epoch 1, step"), stopped
    where = [s.split(" at ", 1)[1].split(";")[0] for s in stopped]
    assert where[0] == where[1], stopped  # the same step on both
    step = int(where[0].rsplit(" ", 1)[1])
    state = newest(run)
    assert (state.status, state.epoch, state.step, state.global_step) == ("interrupted", 0, step, step)
    # both resume; the interrupted epoch now ends 4 steps later (a shorter --steps-per-epoch, see above)
    resume = [run, *RUN, "--epochs", "1", "--steps-per-epoch", str(step + 4)]
    env["LSTMGEN_COORDINATOR"] = f"127.0.0.1:{free_port()}"
    procs = [lstmgen(resume, {**env, "LSTMGEN_PROCESS_ID": str(i)}) for i in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    assert [(int(r["epoch"]), int(r["global_step"])) for r in metrics(run)] == [(1, step + 4)]


@pytest.mark.parametrize("where", [".", "checkpoints"])
def test_read_only_run_directory_simulated(two_epochs, tmp_path, monkeypatch, where):
    """The same where no mount is allowed: creating a file in the folder fails with EROFS (simulated)."""
    import tempfile

    run = finished_copy(two_epochs, tmp_path)
    real = tempfile.mkstemp
    target = os.path.abspath(run / where)

    def mkstemp(*a, dir=None, **k):
        if dir is not None and os.path.abspath(dir) == target:
            raise OSError(errno.EROFS, "Read-only file system", os.path.join(dir, "x"))
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    fails(
        ["train", str(run), "--epochs", "3", "--steps-per-epoch", "3", *TINY],
        r"cannot write to run directory .*Read-only file system.*make it writable",
        untouched=[run],
    )
