"""Never lose a run, part 2: lstmgen never overwrites what it did not write, never changes a run it was not asked to
continue, lets one process at a time train a run, and reads runs consistently while they train."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import TINY_TRAIN
from contract import fails, tree_hashes
from lstmgen.cli.main import cli
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.runfiles import is_run_dir

TINY = ["--config", "smoke", *TINY_TRAIN, "--steps-per-epoch", "3", "-q"]
REPO = Path(__file__).resolve().parents[1]


def cli_ok(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def reber_run(tmp_path_factory):
    """R: a finished two-epoch tiny run on builtin:reber (copy it before changing it)."""
    run = tmp_path_factory.mktemp("reber") / "R"
    cli_ok("train", "builtin:reber", "-o", run, "--epochs", "2", *TINY)
    return run


@pytest.fixture
def run_copy(reber_run, tmp_path):
    return Path(shutil.copytree(reber_run, tmp_path / "R"))


# --- 1. files the user already had in an -o folder -----------------------------------------------------------------
@pytest.mark.parametrize(
    "files",
    [
        {"config.yaml": "my: stuff\n", "vocab.json": "{}\n"},
        {"config.yaml": "my: stuff\n", "checkpoints/": None},
        {"run.json": '{"my": "run"}\n', "notes.txt": "keep me\n"},
        {"run.json": '{"format": "lstmgen-run", "version": 1}\n', "vocab.json": "{}\n"},  # no marker: not ours
    ],
)
def test_train_never_overwrites_files_the_user_had_in_the_output_folder(tmp_path, files):
    out = tmp_path / "P"
    out.mkdir()
    for name, text in files.items():
        if text is None:
            (out / name).mkdir()
        else:
            (out / name).write_text(text)
    if "run.json" in files and "lstmgen-run" in files["run.json"]:
        (out / "run.json").write_text('{"format": "somebody-else"}\n')
    fails(
        ["train", "builtin:reber", "-o", str(out), "--epochs", "1", *TINY],
        r"not an lstmgen run.*-o",
        untouched=[out],
        no_new=[out],
    )


def test_a_foreign_run_json_does_not_make_a_run_directory(tmp_path):
    (tmp_path / "run.json").write_text('{"my": "run"}')
    assert not is_run_dir(tmp_path)
    (tmp_path / "run.json").write_text("not json")
    assert not is_run_dir(tmp_path)


@pytest.mark.parametrize("run_json", ["{ not json", '{"format": "somebody-else"}'])
def test_a_damaged_or_foreign_run_json_is_said_not_trained_on_as_text(run_copy, run_json):
    """A run from before the marker, with a damaged run.json, is not a folder of text to train a new run on."""
    (run_copy / ".lstmgen-run").unlink()
    (run_copy / "run.json").write_text(run_json)
    for args in (
        ["train", str(run_copy), "--epochs", "3"],
        ["generate", str(run_copy), "-n", "5"],
        ["info", str(run_copy)],
    ):
        fails(
            args,
            r"run file .* corrupt|not an lstmgen run directory \(run.json has another format\)",
            untouched=[run_copy],
            no_new=[run_copy.parent],
        )


def test_a_run_killed_while_being_created_starts_over(tmp_path):
    """What create() leaves when killed before run.json: its marker first, then its own files."""
    from lstmgen.runs.runfiles import MARKER_NAME

    out = tmp_path / "P"
    (out / "checkpoints").mkdir(parents=True)
    (out / MARKER_NAME).write_text('{"format": "lstmgen-run"}\n')
    (out / "config.yaml").write_text("units: 3\n")
    cli_ok("train", "builtin:reber", "-o", out, "--epochs", "1", *TINY)
    assert is_run_dir(out) and RunDir(out).checkpoints()


# --- 2. train R -o NEW branches R into NEW ----------------------------------------------------------------------------
def test_train_run_with_another_output_branches_and_never_changes_the_run(run_copy, tmp_path):
    run, new = run_copy, tmp_path / "NEW"
    before = tree_hashes(run)
    result = cli_ok("train", run, "-o", new, "--epochs", "3", "--steps-per-epoch", "3")
    assert tree_hashes(run) == before, "the original run was changed"
    assert f"branched {run}" in result.stderr or "branched from" in result.stderr
    info = json.loads((new / "run.json").read_text())
    assert info["branched_from"]["run"] == str(run.resolve()) and info["branched_from"]["global_step"] == 6
    newest = RunDir(new).checkpoints()[0][1]
    assert newest.epoch == 3 and newest.global_step == 9
    assert [h["epoch"] for h in newest.history] == [1, 2, 3]
    assert (new / "best.keras").is_file() and (new / "metrics.csv").read_text().count("\n") == 4
    assert (new / "config.yaml").read_text().count("epochs: 3") == 1
    assert f"from {run.resolve()} at global step 6" in cli_ok("info", new).stdout


def test_branching_a_run_whose_checkpoints_are_pruned_while_copied_still_carries_one(run_copy, tmp_path, monkeypatch):
    """RUN may be training while it is branched: each checkpoint listed can be pruned before it is copied."""
    import lstmgen.training.branch as branch

    real, calls = branch._copy_checkpoint, []

    def pruned_at_first(model, dst):
        calls.append(model.name)
        if len(calls) <= 2:  # both checkpoints of the first listing
            raise FileNotFoundError(model)
        return real(model, dst)

    monkeypatch.setattr(branch, "_copy_checkpoint", pruned_at_first)
    new = tmp_path / "NEW"
    cli_ok("train", run_copy, "-o", new, "--epochs", "2", "-q")
    assert json.loads((new / "run.json").read_text())["branched_from"]["global_step"] == 6
    assert RunDir(new).checkpoints()[0][1].global_step == 6


def test_branching_into_a_non_empty_folder_or_another_run_is_refused(run_copy, reber_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("my: stuff\n")
    fails(
        ["train", str(run_copy), "-o", str(mine), "--epochs", "3"],
        r"not an lstmgen run",
        untouched=[run_copy, mine],
        no_new=[mine],
    )
    fails(
        ["train", str(run_copy), "-o", str(reber_run), "--epochs", "3"],
        r"already .*run.*lstmgen train",
        untouched=[run_copy, reber_run],
        no_new=[reber_run],
    )


def test_branching_into_a_folder_inside_the_run_is_refused(run_copy):
    fails(
        ["train", str(run_copy), "-o", str(run_copy / "b"), "--epochs", "3"],
        r"inside the run.*outside",
        untouched=[run_copy],
        no_new=[run_copy],
    )


def test_train_run_with_itself_as_output_resumes_it(run_copy):
    result = cli_ok("train", run_copy, "-o", run_copy, "--epochs", "3", "--steps-per-epoch", "3")
    assert "branch" not in result.stderr
    assert RunDir(run_copy).checkpoints()[0][1].epoch == 3


# --- 3. prepare over another corpus's prepared folder ---------------------------------------------------------------
def test_prepare_refuses_to_replace_another_corpus_unless_forced(tmp_path):
    out = tmp_path / "P"
    cli_ok("prepare", "builtin:reber", "-o", out)
    cli_ok("prepare", "builtin:reber", "-o", out)  # the same data again is fine
    other = tmp_path / "other.txt"
    other.write_text("something else entirely\n" * 50)
    fails(["prepare", str(other), "-o", str(out)], r"another prepared corpus.*--force", untouched=[out], no_new=[out])
    fails(["prepare", "builtin:reber", "--val-fraction", "0.2", "-o", str(out)], r"--force", untouched=[out])
    cli_ok("prepare", other, "-o", out, "--force")
    assert "other.txt" in json.loads((out / "meta.json").read_text())["sources"][0]


@pytest.mark.parametrize("name", ["vocab.json", "meta.json", "ids.bin"])
def test_prepare_never_overwrites_a_users_file_of_the_same_name(tmp_path, name):
    out = tmp_path / "P"
    out.mkdir()
    (out / name).write_text('{"mine": true}\n')
    fails(["prepare", "builtin:reber", "-o", str(out)], r"not .*lstmgen.*--force", untouched=[out], no_new=[out])


def test_prepare_help_documents_force():
    assert "--force" in CliRunner().invoke(cli, ["prepare", "--help"]).output
    readme = (REPO / "README.md").read_text()
    assert "lstmgen prepare SOURCE… [-o DIR] [--force]" in readme


# --- two processes, one run -----------------------------------------------------------------------------------------
HOLDER = """
import sys
from lstmgen.runs.rundir import RunDir
with RunDir(sys.argv[1]).lock():
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_trainer_is_refused_while_another_process_trains(run_copy):
    (run_copy / "checkpoints" / ".tmp-ckpt-000000099-inflight.keras").write_bytes(b"being written")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_copy)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert RunDir(run_copy).is_training()
        before = tree_hashes(run_copy)
        err = fails(["train", str(run_copy), "--epochs", "3"], r"being trained", untouched=[run_copy])
        assert f"pid {holder.pid}" in err
        assert tree_hashes(run_copy) == before
    finally:
        holder.kill()
        holder.wait()
    # the holder died without cleaning up: its lock file stays, but no longer blocks
    assert (run_copy / ".lock").exists() and not RunDir(run_copy).is_training()
    cli_ok("train", run_copy, "--epochs", "3")
    assert not (run_copy / ".lock").exists()


def test_two_trainers_of_one_run_the_second_is_refused_while_the_first_trains(run_copy):
    import signal
    import time

    first = subprocess.Popen(
        [sys.executable, "-m", "lstmgen", "train", str(run_copy), "--epochs", "10000", "-q"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 120
        while not (run_copy / "train.log").read_text().count("resumed_from=global_step_6"):
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.2)
        assert RunDir(run_copy).is_training()
        err = fails(["train", str(run_copy), "--epochs", "4"], r"being trained by pid \d+ since")
        assert f"pid {first.pid}" in err
        first.send_signal(signal.SIGINT)
        assert first.wait(120) == 3, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    log = (run_copy / "train.log").read_text()
    assert log.count("resumed_from=global_step") == 1 and not (run_copy / ".lock").exists()


def test_a_lock_file_whose_pid_is_alive_but_not_training_does_not_block(run_copy):
    (run_copy / ".lock").write_text(
        json.dumps({"pid": os.getpid(), "host": os.uname().nodename, "started": "2020-01-01T00:00:00"})
    )
    assert not RunDir(run_copy).is_training()
    rows = json.loads(cli_ok("runs", run_copy, "--json").stdout)
    assert rows[0]["state"] == "finished"
    cli_ok("train", run_copy, "--epochs", "3")


def test_the_lock_is_taken_before_the_run_is_written(run_copy, monkeypatch):
    """clean_temps and config.yaml come after the lock: a refused trainer removes nothing."""
    calls = []
    real_lock = RunDir.acquire_lock
    monkeypatch.setattr(RunDir, "acquire_lock", lambda self: (calls.append("lock"), real_lock(self))[1])
    real_clean = RunDir.clean_temps
    monkeypatch.setattr(RunDir, "clean_temps", lambda self: (calls.append("clean"), real_clean(self))[1])
    cli_ok("train", run_copy, "--epochs", "3")
    assert calls[:2] == ["lock", "clean"]


def test_a_reader_testing_the_lock_does_not_turn_a_trainer_away(run_copy):
    """`lstmgen runs`/`info` take a shared flock for an instant to see whether a run trains."""
    import fcntl

    lock = run_copy / ".lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    timer = threading.Timer(0.1, os.close, [fd])
    timer.start()
    try:
        with RunDir(run_copy).lock():
            assert RunDir(run_copy).is_training()
    finally:
        timer.join()
    assert not RunDir(run_copy).is_training()


# --- readers while a trainer commits and prunes checkpoints ---------------------------------------------------------
def test_info_runs_and_eval_read_a_consistent_snapshot_while_checkpoints_churn(run_copy):
    from lstmgen.evaluation.evaluate import evaluate
    from lstmgen.generation.generate import load
    from lstmgen.runs.runinfo import run_info
    from lstmgen.runs.runlist import list_runs

    run = RunDir(run_copy)
    template = run.checkpoints()[0]
    model_bytes = template[0].read_bytes()
    stop = threading.Event()
    errors = []

    def churn():
        step = 100
        try:
            while not stop.is_set():
                step += 1
                path = run.checkpoint_path(step)
                path.write_bytes(model_bytes)
                state = dataclasses.replace(template[1], global_step=step)
                run.commit_checkpoint(state, keep=1, best=step % 2 == 0)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        for _ in range(60):
            info = run_info(run_copy)
            assert all(c["size_bytes"] > 0 for c in info["checkpoints"])
            assert list_runs(run_copy)[0]["state"] in ("finished", "interrupted")
        for _ in range(10):
            result = evaluate(str(run_copy), [], loss=False)
            assert result["checkpoint"] is not None
        for which in ("best", "latest", "best"):
            step_model, vocab, _ = load(str(run_copy), which)
            assert step_model.vocab_size == vocab.size
    finally:
        stop.set()
        thread.join()
    assert not errors, errors


def test_a_checkpoint_pruned_between_listing_and_loading_is_said_so(tmp_path):
    from lstmgen.errors import LstmgenError
    from lstmgen.generation.generate import load_keras_model

    with pytest.raises(LstmgenError, match="no longer exists"):
        load_keras_model(tmp_path / "checkpoints" / "ckpt-000000004.keras")
