"""The training backend picked before Keras is imported: torch on a CPU where installed, unless the user chose."""

import importlib.util
import json
import sys

import pytest

from lstmgen.runtime import backendpick


@pytest.fixture
def clean(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_BACKEND", "unset")  # so that undo restores the real value, also when pick sets it
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delitem(sys.modules, "keras", raising=False)  # as in a fresh `lstmgen train` process
    monkeypatch.setattr(backendpick, "_has_nvidia_gpu", lambda: False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "torch" else real(name, *a))
    return tmp_path


def test_torch_on_a_cpu_when_installed(clean, monkeypatch):
    said = backendpick.pick_for_training()
    assert said and "torch" in said and "KERAS_BACKEND=tensorflow" in said
    import os

    assert os.environ["KERAS_BACKEND"] == "torch"


@pytest.mark.parametrize("case", ["env", "keras_json", "gpu", "no_torch", "keras_imported"])
def test_the_users_choice_or_a_gpu_is_kept(clean, monkeypatch, case):
    if case == "env":
        monkeypatch.setenv("KERAS_BACKEND", "jax")
    elif case == "keras_json":
        (clean / "keras.json").write_text(json.dumps({"backend": "jax"}))
    elif case == "gpu":
        monkeypatch.setattr(backendpick, "_has_nvidia_gpu", lambda: True)
    elif case == "no_torch":
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    else:
        monkeypatch.setitem(sys.modules, "keras", object())
    before = dict(__import__("os").environ)
    assert backendpick.pick_for_training() is None
    assert dict(__import__("os").environ) == before


def test_keras_json_written_by_keras_itself_is_no_choice(clean):
    (clean / "keras.json").write_text(json.dumps({"backend": "tensorflow", "floatx": "float32"}))
    assert backendpick.pick_for_training() is not None
