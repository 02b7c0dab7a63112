"""Crash safety of `lstmgen train`, through real subprocesses.

* The short fault campaign of bench/faults.py: 3 SIGKILLs (random moments and during a save) of a tiny model on
  builtin:reber; every checkpoint loads after every kill, each kill loses at most one checkpoint interval, the run
  completes, and its final weights equal an uninterrupted run's bit for bit (or its val_loss to 1e-4).
* SIGINT and SIGTERM stop training cleanly: exit code 3 after a checkpoint, a "Resume with" hint, and the resume
  completes.

LSTMGEN_FAULTS_SEED=N picks another kill schedule (the default is fixed; the kill moments still vary with timing).
"""

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _load_faults():
    spec = importlib.util.spec_from_file_location("bench_faults", REPO / "bench" / "faults.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


faults = _load_faults()

TINY = [
    "--config",
    "smoke",
    "--units",
    "32",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "60",
    "--log-every-steps",
    "1",
    "--mixed-precision",
    "off",
]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    return tmp_path / "cache"


def test_quick_fault_campaign(tmp_path, cache):
    rng_seed = int(os.environ.get("LSTMGEN_FAULTS_SEED", "20240611"))
    train_args = faults.QUICK_ARGS
    assert "--checkpoint-steps" in train_args and "--mixed-precision" in train_args
    res = faults.run_campaign(
        "builtin:reber",
        tmp_path / "faults",
        kills=3,
        seed=1234,
        train_args=train_args,
        rng_seed=rng_seed,
        log=lambda m: None,
    )
    report = faults.format_report(res)
    print(report)
    s = res["summary"]
    assert res["failures"] == [], report
    assert res["ok"], report
    assert s["kills"] == 3 and len(res["kills"]) == 3, report
    assert s["kills_random"] == 2 and s["kills_during_save"] == 1, report
    for row in res["kills"]:
        assert row["all_loadable"] and row["checkpoints"], report
        assert row["resumed_from"] == row["newest_on_disk"], report
        assert 0 <= row["steps_lost"] <= s["checkpoint_interval"] == 10, report
        if row["kind"] == "save":
            assert row["tmp_files_at_kill"], report  # it really died with a save in progress
    assert s["all_checkpoints_loadable"] and s["always_resumed_from_newest"], report
    assert s["completed"], report
    assert s["bit_exact"] or s["val_loss_match_1e-4"], report
    assert s["val_loss_match_1e-4"] and abs(s["val_loss_ref"] - s["val_loss_faulted"]) <= 1e-4, report
    assert s["metrics_rows_match"], report
    assert [p["epoch"] for p in res["per_epoch"]] == [1, 2], report


def _wait_for_step(log: Path, proc: subprocess.Popen, timeout: float = 120.0) -> int:
    """Block until train.log has a per-step line; returns the last logged global step."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if log.exists():
            steps = faults.step_lines(log.read_text(encoding="utf-8"))
            if steps:
                return steps[-1][1]
        assert proc.poll() is None, "training exited before its first step"
        time.sleep(0.005)
    proc.kill()
    pytest.fail("no training step logged in time")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_saves_checkpoint_and_exits_3(tmp_path, cache, sig):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    prep, run = tmp_path / "prep", tmp_path / "run"
    subprocess.run(
        [sys.executable, "-m", "lstmgen", "prepare", "builtin:reber", "-o", str(prep), "-q"],
        check=True,
        env=env,
        cwd=tmp_path,
    )
    cmd = [sys.executable, "-m", "lstmgen", "train", str(prep), "-o", str(run), *TINY, "--seed", "5", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        before = _wait_for_step(run / "train.log", proc)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, (proc.returncode, err)
    assert "Resume with: lstmgen train" in err, err
    assert f"stopped by {sig.name}" in err, err

    ckpts = sorted((run / "checkpoints").glob("ckpt-*.json"))
    assert ckpts, "no checkpoint was written on the signal"
    state = json.loads(ckpts[-1].read_text(encoding="utf-8"))
    logged = faults.step_lines((run / "train.log").read_text(encoding="utf-8"))[-1][1]
    assert state["status"] == "interrupted"
    assert before <= state["global_step"] == logged < 120  # saved at the step it stopped at: nothing lost
    assert state["epoch"] * 60 + state["step"] == state["global_step"]
    assert (run / "latest.keras").samefile(ckpts[-1].with_suffix(".keras"))
    assert "interrupted epoch=" in (run / "train.log").read_text(encoding="utf-8")

    resumed = subprocess.run(
        [sys.executable, "-m", "lstmgen", "train", str(run), "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    m = re.search(r"resuming from ckpt-\d+\.keras: epoch \d+, step \d+ \(global step (\d+)\)", resumed.stderr)
    assert m and int(m.group(1)) == state["global_step"], resumed.stderr
    assert "finished: 2 epochs, 120 steps" in resumed.stderr, resumed.stderr
    final = json.loads(sorted((run / "checkpoints").glob("ckpt-*.json"))[-1].read_text(encoding="utf-8"))
    assert final["epoch"] == 2 and final["global_step"] == 120
    assert [row["epoch"] for row in final["history"]] == [1, 2]
