"""The Keras-backend generation engine agrees with the NumPy one, and `auto` picks by device."""

import numpy as np
import pytest

from lstmgen.config import Config
from lstmgen.errors import LstmgenError
from lstmgen.generation.devicestep import DeviceStepModel, for_engine, pick_engine
from lstmgen.generation.sample import Sampling, StepModel, generate_ids


@pytest.fixture(scope="module")
def step_models():
    from lstmgen.runtime.backend import keras
    from lstmgen.training.model import build_model

    keras.mixed_precision.set_global_policy("float32")  # an earlier training test may have left bf16 set
    keras.utils.set_random_seed(3)
    model = build_model(Config(embedding_dim=8, layers=3, units=24), vocab_size=17)
    for w in model.weights:  # larger than the initialiser's weights, so every gate matters
        w.assign(np.random.default_rng(len(w.path)).normal(0, 0.4, w.shape).astype("float32"))
    numpy_model = StepModel.from_keras(model)
    return model, numpy_model, DeviceStepModel(numpy_model)


def test_device_step_matches_numpy_step_and_keras(step_models):
    model, numpy_model, device_model = step_models
    ids = np.random.default_rng(0).integers(0, 17, size=(5, 30))
    from lstmgen.runtime.backend import keras

    want = keras.ops.convert_to_numpy(model(ids))  # np.asarray fails on torch tensors that carry gradients
    s_np, s_dev = numpy_model.zero_state(5), device_model.zero_state(5)
    for t in range(ids.shape[1]):
        a, s_np = numpy_model.step(ids[:, t], s_np)
        b, s_dev = device_model.step(ids[:, t], s_dev)
        assert isinstance(b, np.ndarray) and b.shape == (5, 17)
        np.testing.assert_allclose(b, a, atol=2e-5)
        np.testing.assert_allclose(b, want[:, t], atol=2e-5)


def test_both_engines_sample_the_same_text(step_models):
    _, numpy_model, device_model = step_models
    prime = np.array([1, 2, 3])
    a = np.stack(list(generate_ids(numpy_model, prime, 120, 4, Sampling(temperature=0.9), seed=5)))
    b = np.stack(list(generate_ids(device_model, prime, 120, 4, Sampling(temperature=0.9), seed=5)))
    assert np.array_equal(a, b)


def test_auto_picks_numpy_without_a_gpu_and_choices_are_checked(step_models):
    from lstmgen.runtime.backend import has_gpu

    assert pick_engine("auto") == ("keras" if has_gpu() else "numpy")
    assert pick_engine("keras") == "keras" and pick_engine("numpy") == "numpy"
    with pytest.raises(LstmgenError, match="--engine"):
        pick_engine("cuda")
    _, numpy_model, _ = step_models
    assert for_engine(numpy_model, "numpy") is numpy_model
    assert isinstance(for_engine(numpy_model, "keras"), DeviceStepModel)
