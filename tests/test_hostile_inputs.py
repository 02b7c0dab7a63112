"""Hostile inputs (issue 17, part B): out-of-range numbers, wrong types, pathological YAML, a bad KERAS_BACKEND and
inputs that never end are each one clear line and exit 1, refused before anything is written; never an internal
error, a hang or memory exhaustion."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import lstmgen as _pkg
from conftest import TINY_TEXT, TINY_TRAIN
from contract import fails, tree_hashes
from lstmgen.cli.main import cli

ROOT = Path(_pkg.__file__).resolve().parent.parent  # the checkout under test, also for subprocesses


def lstmgen(*args, env=None, stdin=None, timeout=120):
    """The CLI in a fresh process (for what only happens at import time, and for real streams on stdin)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "lstmgen", *args],
        env=env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def one_error(proc, match, code=1):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert len(lines) == 1 and lines[0].startswith("lstmgen: error: "), lines[-5:]
    assert re.search(match, lines[0], re.I), lines[0]
    return lines[0]


def within(seconds, fifo, fn):
    """Run fn() in a thread; if it is still running after `seconds` (blocked opening the FIFO), open the FIFO's
    writing end to release it and fail, so a regression fails instead of hanging the suite."""
    box = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as e:  # re-raised in the test thread
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            t.join(10)
        pytest.fail(f"blocked on the FIFO {fifo} for {seconds}s")
    if "error" in box:
        raise box["error"]
    return box.get("result")


@pytest.fixture
def corpus(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text(TINY_TEXT, encoding="utf-8")
    return f


def train_fails(tmp_path, corpus, extra, match, **kw):
    """`train` with extra options fails before anything is written: no run folder appears next to -o."""
    return fails(
        ["train", str(corpus), "-o", str(tmp_path / "new-run"), *TINY_TRAIN, *extra], match, no_new=[tmp_path], **kw
    )


# --- numbers out of range ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "opt, value, match",
    [
        ("--seed", "-1", r"seed.*from 0 to 4,294,967,295"),
        ("--seed", str(2**32), r"seed.*from 0 to 4,294,967,295"),
        ("--epochs", str(10**30), r"epochs.*from 1 to 1,000,000"),
        ("--steps-per-epoch", str(10**30), r"steps-per-epoch.*from 0 to"),
        ("--units", "1000000", r"units.*from 1 to 65,536"),
        ("--layers", "1000", r"layers.*from 1 to 64"),
        ("--embedding-dim", str(10**9), r"embedding-dim.*from 1 to"),
        ("--seq-len", str(10**8), r"seq-len.*from 1 to"),
        ("--batch-size", str(10**8), r"batch-size.*from 1 to"),
        ("--val-batch-size", str(10**8), r"val-batch-size.*from 1 to"),
        ("--steps-per-execution", str(10**8), r"steps-per-execution.*from 1 to"),
        ("--keep-checkpoints", str(10**8), r"keep-checkpoints.*from 1 to"),
        ("--sample-length", str(10**9), r"sample-length.*from 1 to"),
        ("--log-every-steps", "0", r"log-every-steps.*from 1 to"),
        ("--warmup-steps", str(10**20), r"warmup-steps.*from 0 to"),
        ("--checkpoint-steps", "-3", r"checkpoint-steps.*from 0 to"),
        ("--threads", str(10**7), r"threads.*from 0 to"),
        ("--max-minutes", "1e300", r"max-minutes.*in \[0,"),
        ("--learning-rate", "1e300", r"learning-rate.*in \(0, 100\]"),
        ("--sample-temperatures", "1e-300", r"temperature.*in \[0.001, 1000\]"),
        ("--process-id", "-2", r"process-id.*from -1 to"),
        ("--devices", "x" * 5000, r"devices.*at most 1,000"),
    ],
)
def test_train_option_out_of_range_is_refused_before_writing(tmp_path, corpus, opt, value, match):
    train_fails(tmp_path, corpus, [opt, value], match)


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--units", "65536", "--layers", "64"], r"parameters.*lower --units"),
        (["--embedding-dim", "65536", "--units", "65536"], r"parameters.*lower --units"),
        (["--val-batch-size", "1000000", "--seq-len", "100000"], r"val_batch_size × seq_len.*lower --val-batch-size"),
    ],
)
def test_models_that_cannot_fit_in_memory_are_refused(tmp_path, corpus, extra, match):
    train_fails(tmp_path, corpus, extra, match)


def test_estimate_validates_config_ranges_and_log_epochs(tmp_path, corpus):
    fails(["estimate", str(corpus), "--units", "-4"], r"units.*from 1 to")
    log = tmp_path / "train.log"
    log.write_text("Epoch 1/3\n10/10 [====] - 1s 100ms/step - loss: 1.0\n")
    fails(["estimate", "--log", str(log), "--epochs", str(10**30)], r"epochs.*from 1 to 1,000,000")


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--seed", "-1"], r"seed.*from 0 to 4,294,967,295"),
        (["--seed", str(2**32)], r"seed.*from 0 to 4,294,967,295"),
        (["--num-samples", str(10**9)], r"num-samples.*from 1 to 4,096"),
        (["--length", str(10**12)], r"length.*from 0 to 10,000,000"),
        (["--num-samples", "4096", "--length", "1000000"], r"at most 50,000,000 are generated"),
        (["--top-k", str(10**12)], r"top-k.*from 0 to 65,536"),
        (["--temperature", "1e-300"], r"temperature.*in \[0.001, 1000\]"),
        (["--temperature", "inf"], r"temperature"),
        (["--top-p", "nan"], r"top-p"),
    ],
)
def test_generate_options_out_of_range(tiny_run, extra, match):
    fails(["generate", str(tiny_run), *extra], match, untouched=[tiny_run])


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--generate", "1", "--seed", "-1"], r"seed.*from 0 to"),
        (["--generate", str(10**9)], r"generate.*from 0 to 4,096"),
        (["--generate", "2", "--length", str(10**12)], r"length.*from 0 to"),
        (["--generate", "4000", "--length", "100000"], r"at most 50,000,000"),
        (["--ngram", str(10**9)], r"ngram.*from 1 to 1,000"),
        (["--generate", "1", "--temperature", "0"], r"temperature"),
    ],
)
def test_eval_options_out_of_range(tiny_run, extra, match):
    fails(["eval", str(tiny_run), *extra], match, untouched=[tiny_run])


def test_generation_that_cannot_fit_in_memory_is_refused(tiny_run, monkeypatch):
    import lstmgen.generation.generate

    monkeypatch.setattr(lstmgen.generation.generate, "memory_bytes", lambda: 64 << 20)  # a 64 MB machine
    fails(
        ["generate", str(tiny_run), "--num-samples", "4096", "--length", "10000"],
        r"GiB.*lower --num-samples",
        untouched=[tiny_run],
    )


def test_huge_steps_per_epoch_plans_nothing_up_front():
    """Cutting batches for an epoch longer than one pass was O(steps) before training: it never started."""
    from lstmgen.training.batches import TrainBatches

    ids = (np.arange(5000) % 37).astype(np.uint8)

    def first_batch():
        batches = TrainBatches(ids, 13, 7, seed=9, steps=10**7)
        batches.set_epoch(3)
        return batches[0][0].shape, len(batches)

    done = {}
    t = threading.Thread(target=lambda: done.setdefault("r", first_batch()), daemon=True)
    t.start()
    t.join(30)
    assert done.get("r") == ((7, 13), 10**7)


def test_huge_steps_per_epoch_trains_and_stops_on_sigterm(tmp_path, corpus):
    """A huge --steps-per-epoch starts training at once and SIGTERM stops it with a checkpoint (exit 3)."""
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lstmgen",
            "train",
            str(corpus),
            "-o",
            str(run),
            *TINY_TRAIN,
            "--steps-per-epoch",
            "1000000000",
            "--log-every-steps",
            "1",
            "-q",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 120
        log = run / "train.log"
        while time.monotonic() < deadline and not (log.is_file() and " step " in log.read_text()):
            time.sleep(0.5)
        assert log.is_file() and " step " in log.read_text(), "training never started"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err


# --- wrong types in config files ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, match",
    [
        ("units: 12.7\n", r"'units' must be an integer, got 12.7"),  # was silently trained as 12
        ("units: .inf\n", r"'units' must be an integer"),  # was an internal OverflowError
        ("dropout: " + "9" * 400 + "\n", r"'dropout' must be a number"),  # ditto
        ("units: " + "9" * 5000 + "\n", r"cannot read"),  # an internal ValueError from YAML's int()
        ("seed: 2020-13-45\n", r"cannot read \(month must be in 1..12\)"),  # an internal ValueError from YAML's date()
    ],
)
def test_config_values_of_the_wrong_type(tmp_path, corpus, text, match):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    err = train_fails(tmp_path, corpus, ["-c", str(cfg)], match, untouched=[cfg])
    assert len(err) < 400


@pytest.mark.parametrize(
    "text, match",
    [
        ("units: true\n", r"'units' must be an integer"),
        ("units: [16]\n", r"'units' must be an integer"),
        ("units: {a: 1}\n", r"'units' must be an integer"),
        ("units: 1e400\n", r"'units' must be an integer"),
        ("dropout: 1e400\n", r"'dropout' must be a number"),
        ("lowercase: 3\n", r"'lowercase' must be true or false"),
        ("devices: [a, b]\n", r"'devices' must be a string"),
    ],
)
def test_config_types_that_were_already_refused_stay_refused(tmp_path, corpus, text, match):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    train_fails(tmp_path, corpus, ["-c", str(cfg)], match, untouched=[cfg])


def test_integer_valued_floats_are_fine_in_config_files(tmp_path):
    from lstmgen.config import make_config

    cfg = tmp_path / "c.yaml"
    cfg.write_text("units: 12.0\nseed: 4294967295\n")
    made = make_config(str(cfg))
    assert made.units == 12 and isinstance(made.units, int) and made.seed == 2**32 - 1


# --- pathological YAML ------------------------------------------------------------------------------------------
LAUGHS = (
    "a: &a ["
    + ",".join(["lol"] * 9)
    + "]\n"
    + "".join(f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, n in itertools.pairwise("abcdefghi"))
    + "units: *i\n"
)


@pytest.mark.parametrize(
    "text, match",
    [
        (LAUGHS, r"anchor or alias"),
        ("units: &u 16\nlayers: *u\n", r"anchor or alias"),
        ("units: " + "[" * 5000 + "]" * 5000 + "\n", r"values or nests deeper"),
        ("units: [" + ",".join(["1"] * 20000) + "]\n", r"values or nests deeper"),
        ("# padding\n" * 200_000, r"--config reads at most 1 MB, .* has 1.9 MB"),
    ],
)
def test_pathological_yaml_is_refused_quickly(tmp_path, corpus, text, match):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    t0 = time.monotonic()
    train_fails(tmp_path, corpus, ["-c", str(cfg)], match, untouched=[cfg])
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_config_file_that_is_a_device_or_fifo(tmp_path, corpus, special):
    path = special
    if special == "fifo":
        path = str(tmp_path / "c.yaml")
        os.mkfifo(path)
    within(
        30,
        path if special == "fifo" else None,
        lambda: train_fails(tmp_path, corpus, ["-c", path], r"not a regular file"),
    )


# --- KERAS_BACKEND ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["nope", "numpy"])
def test_keras_backend_that_is_not_one(tmp_path, tiny_run, backend):
    env = {"KERAS_BACKEND": backend}
    for args in (
        ["train", "builtin:reber", "--config", "smoke", "-o", str(tmp_path / "r")],
        ["eval", str(tiny_run)],
        ["estimate", "builtin:reber"],
    ):  # generate needs no Keras (NumPy engine)
        err = one_error(lstmgen(*args, env=env), rf"KERAS_BACKEND='{backend}'.*tensorflow, jax or torch")
        assert "installed here: tensorflow" in err
    assert not (tmp_path / "r").exists()


def test_keras_backend_not_installed(tmp_path):
    import importlib.util

    missing = next((b for b in ("torch", "jax") if importlib.util.find_spec(b) is None), None)
    if missing is None:
        pytest.skip("every backend is installed")
    one_error(
        lstmgen("train", "builtin:reber", "-o", str(tmp_path / "r"), env={"KERAS_BACKEND": missing}),
        rf"KERAS_BACKEND={missing} but {missing} is not installed",
    )


def test_commands_without_keras_ignore_a_bad_backend(tmp_path, tiny_run):
    env = {"KERAS_BACKEND": "nope"}
    log = tmp_path / "train.log"
    log.write_text("Epoch 1/3\n10/10 [====] - 1s 100ms/step - loss: 1.0\n")
    for args in (
        ["prepare", "builtin:reber", "-o", str(tmp_path / "p"), "-q"],
        ["info", str(tiny_run)],
        ["runs", str(tiny_run.parent)],
        ["estimate", "--log", str(log)],
        ["generate", str(tiny_run), "-n", "5"],
    ):
        proc = lstmgen(*args, env=env)
        assert proc.returncode == 0, (args, proc.stderr)


# --- inputs that never end -----------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_prepare_a_device_is_refused(tmp_path, device):
    fails(
        ["prepare", device, "-o", str(tmp_path / "p")],
        rf"{device} is a character device, not a regular file",
        no_new=[tmp_path],
    )


def test_train_and_eval_refuse_a_device(tmp_path, tiny_run):
    fails(["train", "/dev/zero", "-o", str(tmp_path / "r")], r"character device", no_new=[tmp_path])
    fails(["eval", str(tiny_run), "/dev/zero"], r"/dev/zero is a character device", untouched=[tiny_run])
    fails(["eval", str(tiny_run), "--samples", "/dev/urandom"], r"character device", untouched=[tiny_run])


def test_prepare_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    within(
        30,
        fifo,
        lambda: fails(["prepare", str(fifo), "-o", str(tmp_path / "p")], r"named pipe \(FIFO\)", no_new=[tmp_path]),
    )


def test_eval_text_and_samples_fifo_are_refused_without_blocking(tmp_path, tiny_run):
    fifo = tmp_path / "samples.txt"
    os.mkfifo(fifo)
    within(60, fifo, lambda: fails(["eval", str(tiny_run), "--samples", str(fifo)], r"FIFO", untouched=[tiny_run]))
    within(60, fifo, lambda: fails(["eval", str(tiny_run), str(fifo)], r"FIFO", untouched=[tiny_run]))


def test_estimate_log_fifo_and_device(tmp_path):
    fifo = tmp_path / "train.log"
    os.mkfifo(fifo)
    within(30, fifo, lambda: fails(["estimate", "--log", str(fifo)], r"FIFO.*'-' to read a pipe"))
    within(30, fifo, lambda: fails(["estimate", "--log", str(fifo), "--follow"], r"FIFO"))
    fails(["estimate", "--log", "/dev/zero"], r"character device")


def test_a_fifo_inside_a_corpus_folder_is_skipped_with_a_note(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text(TINY_TEXT)
    os.mkfifo(folder / "b.txt")
    os.symlink("/dev/zero", folder / "c.txt")
    result = within(
        30, folder / "b.txt", lambda: CliRunner().invoke(cli, ["prepare", str(folder), "-o", str(tmp_path / "p")])
    )
    assert result.exit_code == 0, result.output
    assert "skipped 2 special file(s) (FIFO, device or socket): b.txt, c.txt" in result.output


def test_samples_from_an_endless_stream_are_bounded(tiny_run):
    with open("/dev/zero", "rb") as endless:
        one_error(
            lstmgen("eval", str(tiny_run), "--samples", "-", "--no-loss", stdin=endless),
            r"--samples reads at most 64 MB",
        )


def test_samples_file_over_the_bound(tmp_path, tiny_run, monkeypatch):
    import lstmgen.evaluation.samples

    monkeypatch.setattr(lstmgen.evaluation.samples, "SAMPLES_BYTES", 1000)
    big = tmp_path / "samples.txt"
    big.write_text("abc " * 1000)
    fails(
        ["eval", str(tiny_run), "--samples", str(big), "--no-loss"],
        r"--samples reads at most 1,000 bytes",
        untouched=[tiny_run, big],
    )


def test_estimate_log_from_an_endless_stream_is_bounded():
    with open("/dev/zero", "rb") as endless:
        one_error(lstmgen("estimate", "--log", "-", stdin=endless), r"reads at most 64 MB.*tail")
    with open("/dev/zero", "rb") as endless:
        one_error(lstmgen("estimate", "--log", "-", "--follow", stdin=endless), r"not a text log")


def test_corpus_and_eval_text_from_stdin_are_bounded(tmp_path, tiny_run, monkeypatch):
    import lstmgen.data.sources

    monkeypatch.setattr(lstmgen.data.sources, "STDIN_BYTES", 10_000)
    fails(
        ["prepare", "-", "-o", str(tmp_path / "p")],
        r"'-' \(standard input\) reads at most 10,000 bytes; save",
        input=TINY_TEXT,
        no_new=[tmp_path],
    )
    fails(["eval", str(tiny_run), "-"], r"reads at most 10,000 bytes", input=TINY_TEXT, untouched=[tiny_run])


def test_unknown_encoding_is_refused_before_reading_stdin(tmp_path):
    with open("/dev/zero", "rb") as endless:
        one_error(
            lstmgen("prepare", "-", "--encoding", "nope", "-o", str(tmp_path / "p"), stdin=endless, timeout=60),
            r"unknown encoding 'nope'",
        )
    assert not (tmp_path / "p").exists()


def test_finished_run_is_untouched_by_hostile_commands(tiny_run, tmp_path):
    before = tree_hashes(tiny_run)
    for args in (
        ["generate", str(tiny_run), "--seed", "-4"],
        ["eval", str(tiny_run), "/dev/zero"],
        ["train", str(tiny_run), "--epochs", str(10**12)],
        ["train", str(tiny_run), "--seed", "-1"],
    ):
        CliRunner().invoke(cli, args)
    assert tree_hashes(tiny_run) == before
