"""Data-parallel training: sharded batches, and on CPU — TF MirroredStrategy over two logical CPUs, JAX DataParallel
over two forced host devices, two JAX processes forming one job — each matching the single-device run."""

import importlib.util
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import TINY_TEXT
from lstmgen.cli.main import cli
from lstmgen.runtime.backend import NAME as BACKEND
from lstmgen.training.batches import TrainBatches, ValBatches

RUN = [
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
    "1",
    "--mixed-precision",
    "off",
    "--checkpoint-minutes",
    "0",
    "--sample-every-epochs",
    "0",
    "--no-tensorboard",
    "--steps-per-epoch",
    "6",
    "--lr-schedule",
    "constant",
    "--no-progress",  # constant: resuming keeps the schedule
    "--dropout",
    "0",
]  # each TensorFlow replica draws its own dropout masks: only dropout-free runs match exactly


def test_process_shards_together_are_the_global_batch():
    ids = np.arange(5000) % 37
    whole = TrainBatches(ids, 10, 8, seed=2, steps=5)
    parts = [TrainBatches(ids, 10, 8, seed=2, steps=5, shard=(i, 2)) for i in range(2)]
    for step in range(5):
        x, y = whole[step]
        assert np.array_equal(np.concatenate([p[step][0] for p in parts]), x)
        assert np.array_equal(np.concatenate([p[step][1] for p in parts]), y)


def test_validation_splits_evenly_over_replicas():
    ids = np.arange(10 * 37 + 1) % 11  # 37 windows of 10
    val = ValBatches(ids, 10, 16, replicas=2)
    sizes = [len(val[i][0]) for i in range(len(val))]
    assert sum(sizes) == 36 and all(s % 2 == 0 for s in sizes)
    shard = ValBatches(ids, 10, 16, replicas=2, shard=(1, 2))
    assert np.array_equal(shard[0][0], val[0][0][8:])


def test_tensorflow_refuses_multi_host_and_points_to_jax(tmp_path):
    (tmp_path / "c.txt").write_text(TINY_TEXT)
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(tmp_path / "c.txt"),
            "-o",
            str(tmp_path / "r"),
            *RUN,
            "--num-processes",
            "2",
            "--process-id",
            "0",
            "--coordinator",
            "127.0.0.1:1",
        ],
    )
    assert result.exit_code == 1
    assert "KERAS_BACKEND=jax" in result.stderr and "20585" in result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(BACKEND != "tensorflow", reason="--distribute mirrored is TensorFlow's")
def test_plan_batch_split_and_learning_rate_rule(monkeypatch):
    from lstmgen.config import make_config
    from lstmgen.errors import LstmgenError
    from lstmgen.training import distribute

    monkeypatch.setattr(distribute, "_mirrored", lambda cfg: (None, ["/cpu:0", "/cpu:1", "/cpu:2", "/cpu:3"]))
    plan = distribute.setup(make_config(None, {"distribute": "mirrored", "batch_size": 32, "lr_scaling": "sqrt"}))
    assert (plan.replicas, plan.per_replica_batch, plan.shard, plan.is_chief) == (4, 8, (0, 1), True)
    assert plan.scaled(make_config(None)).learning_rate == pytest.approx(2 * 4e-3)  # ×√4
    assert "global batch 32 = 4 × 8 per replica" in plan.describe()
    linear = distribute.setup(make_config(None, {"distribute": "mirrored", "batch_size": 32, "lr_scaling": "linear"}))
    assert linear.scaled(make_config(None)).min_learning_rate == pytest.approx(4 * 1e-4)
    with pytest.raises(LstmgenError, match="does not split over 4 replicas"):
        distribute.setup(make_config(None, {"distribute": "mirrored", "batch_size": 30}))
    with pytest.raises(LstmgenError, match="KERAS_BACKEND=jax"):
        distribute.setup(make_config(None, {"distribute": "data_parallel"}))


def test_launch_keys_are_not_saved_with_the_run():
    from lstmgen.config import dump_yaml, make_config

    text = dump_yaml(
        make_config(None, {"num_processes": 2, "process_id": 1, "coordinator": "h:1", "distribute": "auto"})
    )
    assert "process_id" not in text and "coordinator" not in text and "distribute: auto" in text


# --- several replicas, in subprocesses (device set-up happens once per process) -------------------------------


def lstmgen(args, env_extra, timeout=120):
    env = {k: v for k, v in os.environ.items() if k not in ("LSTMGEN_DEBUG", "XLA_FLAGS", "KERAS_BACKEND")}
    env.update(env_extra)
    return subprocess.Popen(
        [sys.executable, "-m", "lstmgen", "train", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc, timeout=120):
    _out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return err


def train_and_wait(args, env):
    return finish(lstmgen(args, env))


def history(run):
    import csv

    with open(run / "metrics.csv", newline="") as f:
        return [(float(r["loss"]), float(r["val_loss"])) for r in csv.DictReader(f)]


def weights(run):
    from lstmgen.runtime.backend import keras

    return keras.saving.load_model(run / "latest.keras", compile=False).get_weights()


def assert_same_training(a, b, rtol=1e-3):
    """Same global batch, same seed: the same loss curve and (nearly) the same final weights."""
    assert np.allclose(history(a), history(b), rtol=rtol), (history(a), history(b))
    for wa, wb in zip(weights(a), weights(b), strict=True):
        assert np.allclose(wa, wb, atol=1e-4)


def assert_replicas_identical(stderr, copies):
    line = next(ln for ln in stderr.splitlines() if "local replica(s)" in ln)
    assert f"{copies} local replica(s)" in line and "max difference 0," in line, line
    return line.rsplit("checksum ", 1)[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("dist") / "c.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


@pytest.mark.slow
def test_tensorflow_mirrored_over_two_cpus_matches_one_device_and_resumes_on_one(corpus, tmp_path):
    env = {"KERAS_BACKEND": "tensorflow"}
    single, mirrored = tmp_path / "single", tmp_path / "mirrored"
    train_and_wait([corpus, "-o", single, *RUN, "--epochs", "2"], env)
    err = train_and_wait(
        [corpus, "-o", mirrored, *RUN, "--epochs", "1", "--distribute", "mirrored", "--devices", "/cpu:0,/cpu:1"], env
    )
    assert "global batch 8 = 2 × 4 per replica" in err and "lr_scaling none" in err
    assert_replicas_identical(err, 2)
    train_and_wait([mirrored, *RUN, "--epochs", "2", "--distribute", "off"], env)  # 2 replicas → 1
    assert_same_training(single, mirrored)


JAX_ENV = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}


@pytest.fixture(scope="module")
def jax_single(corpus, tmp_path_factory):
    pytest.importorskip("jax")
    run = tmp_path_factory.mktemp("jax") / "single"
    train_and_wait([corpus, "-o", run, *RUN, "--epochs", "2"], JAX_ENV)
    return run


@pytest.mark.slow
def test_jax_data_parallel_over_two_devices_matches_and_resumes_from_one(corpus, jax_single, tmp_path):
    run = tmp_path / "dp"
    train_and_wait([corpus, "-o", run, *RUN, "--epochs", "1"], JAX_ENV)
    err = train_and_wait([run, *RUN, "--epochs", "2", "--distribute", "data_parallel"], JAX_ENV)  # 1 → 2 replicas
    assert "distribution data_parallel: 2 replicas" in err
    assert_replicas_identical(err, 2)
    assert_same_training(jax_single, run)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (pip install 'lstmgen[jax]')")
def test_two_jax_processes_form_one_job(corpus, tmp_path):
    run, port = tmp_path / "job", free_port()
    env = {"KERAS_BACKEND": "jax", "LSTMGEN_COORDINATOR": f"127.0.0.1:{port}", "LSTMGEN_NUM_PROCESSES": "2"}
    procs = [
        lstmgen(
            [corpus, "-o", run, *RUN, "--epochs", "2", "--checkpoint-steps", "4"], {**env, "LSTMGEN_PROCESS_ID": str(i)}
        )
        for i in range(2)
    ]
    try:
        errs = [finish(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert "process 0 of 2 feeds rows 0–3 of each global batch" in errs[0]
    sums = [assert_replicas_identical(e, 1) for e in errs]
    assert sums[0] == sums[1]  # both processes hold the same weights
    from lstmgen.runs.rundir import RunDir

    # multi-process jobs keep no moving average of the weights (ema): the same training as one process without it
    assert RunDir(run).read_config()["ema"] == 0.0
    single = tmp_path / "single-no-ema"
    train_and_wait([corpus, "-o", single, *RUN, "--epochs", "2", "--ema", "0"], JAX_ENV)
    assert_same_training(single, run)

    # one set of checkpoints (mid-epoch ones too), written by process 0
    assert [s.global_step for _, s in RunDir(run).checkpoints()][:3] == [12, 8, 6]
    assert "epoch 1/2" in errs[0] and "epoch 1/2" not in errs[1]  # only the chief reports
