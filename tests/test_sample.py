import numpy as np
import pytest

from lstmgen.errors import LstmgenError
from lstmgen.generation.sample import Sampling, StepModel, choose, probabilities


def test_low_temperature_approaches_greedy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(64, 30))
    cold = choose(logits, Sampling(temperature=1e-3), np.random.default_rng(1))
    assert np.array_equal(cold, logits.argmax(-1))
    assert np.array_equal(choose(logits, Sampling(greedy=True), rng), logits.argmax(-1))
    hot = probabilities(logits, Sampling(temperature=10.0))
    assert hot.max() < probabilities(logits, Sampling(temperature=1.0)).max()


def test_top_k_respects_its_set():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 50))
    top3 = np.argsort(-logits, axis=-1)[:, :3]
    for _ in range(50):
        picks = choose(logits, Sampling(top_k=3), rng)
        assert all(p in row for p, row in zip(picks, top3, strict=True))
    p = probabilities(logits, Sampling(top_k=3))
    assert ((p > 0).sum(-1) == 3).all() and np.allclose(p.sum(-1), 1)


def test_top_p_keeps_smallest_set_reaching_mass():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    p = probabilities(logits, Sampling(top_p=0.7))
    assert np.allclose(p, [[0.5 / 0.8, 0.3 / 0.8, 0, 0]])
    p = probabilities(logits, Sampling(top_p=0.1))
    assert np.allclose(p, [[1, 0, 0, 0]])
    assert np.allclose(probabilities(logits, Sampling(top_p=1.0)), [[0.5, 0.3, 0.15, 0.05]])


def test_sampling_follows_distribution_and_is_seeded():
    logits = np.log(np.tile([[0.7, 0.2, 0.1]], (20_000, 1)))
    picks = choose(logits, Sampling(), np.random.default_rng(0))
    freq = np.bincount(picks, minlength=3) / len(picks)
    assert np.allclose(freq, [0.7, 0.2, 0.1], atol=0.02)
    again = choose(logits, Sampling(), np.random.default_rng(0))
    assert np.array_equal(picks, again)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(temperature=0),
        dict(temperature=-1),
        dict(temperature=float("nan")),
        dict(temperature=float("inf")),
        dict(top_p=0),
        dict(top_p=1.5),
        dict(top_k=-2),
    ],
)
def test_bad_sampling_options(kwargs):
    with pytest.raises(LstmgenError):
        Sampling(**kwargs).check()


def test_step_model_matches_full_sequence_keras_model():
    from lstmgen.config import Config
    from lstmgen.runtime.backend import keras
    from lstmgen.training.model import build_model

    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    model = build_model(Config(layers=2, units=24, embedding_dim=8), vocab_size=17)
    x = np.random.default_rng(0).integers(0, 17, size=(4, 23)).astype("int32")
    full = np.asarray(model.predict(x, verbose=0))
    steps = StepModel.from_keras(model).run(x)
    assert np.abs(steps - full).max() < 1e-5


def _random_step_model(rng, vocab=11, emb=3, units=(5, 7, 4)) -> StepModel:
    lstms, k = [], emb
    for u in units:  # unequal layer widths: the input/recurrent split of each stacked kernel must be right
        lstms.append((rng.normal(size=(k, 4 * u)), rng.normal(size=(u, 4 * u)), rng.normal(size=4 * u)))
        k = u
    return StepModel(rng.normal(size=(vocab, emb)), lstms, rng.normal(size=(k, vocab)), rng.normal(size=vocab))


def test_forward_a_layer_at_a_time_equals_stepping_and_carries_the_state():
    rng = np.random.default_rng(5)
    sm = _random_step_model(rng)
    ids = rng.integers(0, sm.vocab_size, size=(9, 3))  # (time, batch)
    state = [(rng.normal(size=(3, u)).astype(np.float32), rng.normal(size=(3, u)).astype(np.float32)) for u in sm.units]
    stepped, s = [], state
    for t in range(ids.shape[0]):
        logits, s = sm.step(ids[t], s)
        stepped.append(logits)
    first, mid = sm.forward(ids[:4], state)  # two calls, the second from the first's final state
    second, end = sm.forward(ids[4:], mid)
    np.testing.assert_allclose(np.concatenate([first, second]), np.stack(stepped), rtol=1e-5, atol=1e-5)
    for (h, c), (h2, c2) in zip(end, s, strict=True):
        np.testing.assert_allclose(h, h2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c, c2, rtol=1e-5, atol=1e-6)
