"""`--threads`: applied to the backend's pool in a fresh process, reported (never silently ignored) otherwise."""

import os
import subprocess
import sys

import pytest

from lstmgen.runtime import backend


def test_default_says_the_pool_size():
    said = backend.set_threads(0)
    assert said.startswith("threads ") and int(said.split()[1]) >= 1


def fresh(code: str) -> str:
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout


def test_thread_count_is_applied_in_a_fresh_process():
    assert fresh("from lstmgen.runtime import backend; print(backend.set_threads(1))").strip() == "threads 1"


def test_auto_leaves_one_cpu_for_the_input_thread_on_a_tensorflow_cpu():
    out = fresh(
        "from lstmgen.runtime import backend; print(backend.set_threads(0), backend.cpu_count(), backend.has_gpu())"
    )
    said, cpus, gpu = out.rsplit(maxsplit=2)
    if gpu == "False":
        assert said == f"threads {max(int(cpus) - 1, 1)} (auto)"


@pytest.mark.skipif(backend.NAME != "tensorflow", reason="TensorFlow fixes its pool once its runtime starts")
def test_too_late_to_resize_is_reported_not_ignored():
    from lstmgen.runtime.backend import keras

    keras.ops.add(1, 1)  # the runtime is certainly started now
    said = backend.set_threads(3)
    assert "--threads 3 not applied" in said and "already initialised" in said
