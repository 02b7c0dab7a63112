"""`--threads`: applied to the backend's pool in a fresh process, reported (never silently ignored) otherwise."""

import os
import subprocess
import sys

import pytest

from lstmgen import backend


def test_default_leaves_the_pool_alone_and_says_its_size():
    said = backend.set_threads(0)
    assert said.startswith("threads ") and int(said.split()[1]) >= 1


def test_thread_count_is_applied_in_a_fresh_process():
    code = "from lstmgen import backend; print(backend.set_threads(1))"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "threads 1"


@pytest.mark.skipif(backend.NAME != "tensorflow", reason="TensorFlow fixes its pool once its runtime starts")
def test_too_late_to_resize_is_reported_not_ignored():
    from lstmgen.backend import keras

    keras.ops.add(1, 1)  # the runtime is certainly started now
    said = backend.set_threads(3)
    assert "--threads 3 not applied" in said and "already initialised" in said
