"""The torch step shortcuts (lstmgen/runtime/torchstep.py) compute what Keras computes: the same learning rate at
every step, the same clipped gradients, Adam's and AdamW's slots and weights and the weight average after training,
and seeded dropout masks drawn from the state that checkpoints carry."""

import numpy as np
import pytest

from lstmgen.runtime.backend import keras
from lstmgen.runtime.torchstep import cosine_decay
from torchrun import needs_torch, run_torch


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_learning_rate": 4e-5, "decay_steps": 300, "alpha": 0.05, "warmup_target": 4e-3, "warmup_steps": 40},
        {"initial_learning_rate": 2e-3, "decay_steps": 250, "alpha": 0.0},
        {"initial_learning_rate": 1e-3, "decay_steps": 1, "alpha": 0.1, "warmup_target": 1e-2, "warmup_steps": 1},
    ],
)
def test_cosine_decay_matches_keras_at_every_step(kwargs):
    schedule = keras.optimizers.schedules.CosineDecay(**kwargs)
    last = kwargs["decay_steps"] + kwargs.get("warmup_steps", 0)
    peak = max(kwargs["initial_learning_rate"], kwargs.get("warmup_target") or 0.0)
    for step in [*range(0, last + 1, max(last // 60, 1)), last - 1, last, last + 1, 10 * last]:
        want = float(keras.ops.convert_to_numpy(schedule(step)))
        # Keras computes in float32: near the end of the decay its error is ~1e-7 of the peak, not of the value
        assert cosine_decay(schedule, step) == pytest.approx(want, rel=2e-6, abs=1e-6 * peak), step


def test_lighten_is_a_no_op_off_torch():
    from lstmgen.runtime import torchstep
    from lstmgen.runtime.backend import NAME

    if NAME == "torch":
        pytest.skip("this checks the other backends")
    optimizer = keras.optimizers.Adam(global_clipnorm=1.0)
    assert torchstep.lighten(optimizer) is False
    assert "_clip_gradients" not in vars(optimizer)


TRAIN = r"""
import json, numpy as np, keras, torch
from lstmgen.config import Config
from lstmgen.runtime import fused, torchstep
from lstmgen.training.model import build_model, compile_model
fused.install("auto")
rng = np.random.default_rng(0)
x = rng.integers(0, 30, size=(64, 12)).astype("int32")
y = rng.integers(0, 30, size=(64, 12)).astype("int32")
cfg = Config(embedding_dim=8, layers=2, units=16, dropout=0.1, learning_rate=0.05, warmup_steps=3, clipnorm=0.5)
def train(light):
    keras.utils.set_random_seed(1)
    model = build_model(cfg, 30)
    compile_model(model, cfg, total_steps=8, jit_compile=False)
    if light:
        assert torchstep.lighten(model.optimizer) and not torchstep.lighten(model.optimizer)
    rates = []
    for _ in range(2):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    config = model.optimizer.get_config()
    config.pop("name")  # adam, adam_1: the second of a process
    return [w.numpy() for w in model.weights], rates, config
a, ra, ca = train(False)
b, rb, cb = train(True)
grads = [torch.tensor(rng.normal(size=s) * f, dtype=torch.float32) for s, f in [((5, 3), 10.0), ((7,), 1.0)]]
norm = float(np.sqrt(sum((g.numpy().astype("float64") ** 2).sum() for g in grads)))
want = [g.numpy() * min(1.0, 2.0 / norm) for g in grads]
got = torchstep.clip_by_global_norm([g.clone() for g in grads] + [None], 2.0)
small = torchstep.clip_by_global_norm([g.clone() for g in grads], 1e6)
bad = torchstep.clip_by_global_norm([torch.tensor([float("inf"), 1.0])], 1.0)
print(json.dumps({
    "weights": max(float(np.abs(p - q).max()) for p, q in zip(a, b, strict=True)),
    "moved": max(float(np.abs(p).max()) for p in a),
    "rates": [ra, rb], "same_config": ca == cb,
    "clip": max(float(np.abs(w - g.numpy()).max()) for w, g in zip(want, got, strict=False)),
    "clip_none_kept": got[-1] is None,
    "unclipped": max(float(np.abs(s.numpy() - g.numpy()).max()) for s, g in zip(small, grads, strict=True)),
    "nan": bool(torch.isnan(bad[0]).all()),
}))
"""


@pytest.mark.slow
@needs_torch
def test_lightened_adam_trains_the_same_weights_on_torch():
    r = run_torch(TRAIN)
    assert r["weights"] <= 1e-6 < r["moved"], r
    assert np.allclose(r["rates"][0], r["rates"][1], rtol=1e-6), r
    assert r["same_config"], r  # the saved optimizer is plain Keras Adam
    assert r["clip"] <= 1e-5 and r["clip_none_kept"] and r["unclipped"] == 0.0 and r["nan"], r


DROPOUT = r"""
import json, numpy as np, keras, torch
from keras.src.backend.torch import random
from lstmgen.runtime import torchstep
keras_dropout = random.dropout
assert torchstep.install() and torchstep.install()
assert random.dropout.keras_original is keras_dropout
layer = keras.layers.Dropout(0.3, noise_shape=(None, 1, 64), seed=7)
x = torch.ones(200, 5, 64, requires_grad=True)
state = layer.seed_generator.state.value.clone()
out = layer(x, training=True)
out.sum().backward()
mask = out.detach().numpy()
layer.seed_generator.state.assign(state)
again = layer(x, training=True).detach().numpy()
after = layer(x, training=True).detach().numpy()
plain = keras.layers.Dropout(0.3)(x, training=True).detach().numpy()  # unseeded: Keras' own path
print(json.dumps({
    "values": sorted({round(float(v), 5) for v in np.unique(mask)}),
    "kept": float((mask > 0).mean()),
    "same_along_time": bool((mask == mask[:, :1, :]).all()),
    "grad_is_mask": bool(np.array_equal(x.grad.numpy(), mask)),
    "replayed": bool(np.array_equal(mask, again)),
    "advances": bool(not np.array_equal(mask, after)),
    "unseeded_kept": float((plain > 0).mean()),
    "inference": bool(np.array_equal(layer(x, training=False).detach().numpy(), x.detach().numpy())),
}))
"""


@needs_torch
def test_seeded_dropout_is_keras_dropout_drawn_once_and_replayable():
    r = run_torch(DROPOUT)
    assert r["values"] == [0.0, round(1 / 0.7, 5)], r
    assert abs(r["kept"] - 0.7) < 0.03 and abs(r["unseeded_kept"] - 0.7) < 0.03, r  # 12,800 mask draws
    assert r["same_along_time"] and r["grad_is_mask"] and r["inference"], r
    assert r["replayed"] and r["advances"], r  # the mask is a function of the generator state checkpoints carry


FUSED = r"""
import json, sys, numpy as np, keras, torch
from lstmgen.config import Config
from lstmgen.runtime import fused, torchstep
from lstmgen.training import ema
from lstmgen.training.model import build_model, compile_model
fused.install("auto")
rng = np.random.default_rng(0)
x = rng.integers(0, 30, size=(64, 12)).astype("int32")
y = rng.integers(0, 30, size=(64, 12)).astype("int32")
cfg = Config(embedding_dim=8, layers=2, units=16, dropout=0.1, learning_rate=0.02, warmup_steps=3, clipnorm=0.5,
             weight_decay=float(sys.argv[1]), ema=0.9)
calls = []
real = torch._fused_adam_
def counting(*a, **k):
    calls.append(len(a[0]))
    if sys.argv[2] == "missing":  # as a torch before 2.4, whose fused Adam has no CPU kernel
        raise RuntimeError("_fused_adam_ is not implemented for CPU")
    return real(*a, **k)
torch._fused_adam_ = counting
def train(light):
    keras.utils.set_random_seed(1)
    model = build_model(cfg, 30)
    compile_model(model, cfg, total_steps=16, jit_compile=False)
    if light:
        torchstep.lighten(model.optimizer)
    ema.hold(model.optimizer)
    for _ in range(4):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    opt = model.optimizer
    slots = [v.numpy() for v in opt._momentums + opt._velocities]
    averages = [v.numpy() for v in opt._model_variables_moving_average]
    return [w.numpy() for w in model.weights], slots, averages, type(opt).__name__, len(model.trainable_weights)
a, sa, ea, na, n = train(False)
keras_calls = len(calls)
b, sb, eb, nb, _ = train(True)
diff = lambda p, q: max(float(np.abs(u - v).max()) for u, v in zip(p, q, strict=True))
print(json.dumps({
    "weights": diff(a, b), "slots": diff(sa, sb), "averages": diff(ea, eb),
    "moved": max(float(np.abs(p).max()) for p in a), "optimizer": [na, nb],
    "keras_calls": keras_calls, "fused_calls": calls, "weight_count": n,
}))
"""


@pytest.mark.slow
@needs_torch
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_fused_adam_and_lerp_average_match_keras_on_torch(weight_decay):
    r = run_torch(FUSED, str(weight_decay), "present")
    assert r["optimizer"] == ["Adam", "Adam"] if not weight_decay else r["optimizer"] == ["AdamW", "AdamW"], r
    assert r["keras_calls"] == 0 and len(r["fused_calls"]) == 16, r  # every step of the light one, none before
    assert set(r["fused_calls"]) == {r["weight_count"]} == {9}, r  # all the model's weights in one call
    # 16 steps at a rate of up to 0.02: the same weights, Adam's slots and weight average to float32 rounding
    assert r["weights"] <= 2e-6 < r["moved"], r
    assert r["slots"] <= 1e-6 and r["averages"] <= 2e-6, r


@pytest.mark.slow
@needs_torch
def test_without_a_cpu_fused_adam_keras_update_runs_after_one_try():
    r = run_torch(FUSED, "0.0", "missing")
    assert r["keras_calls"] == 0 and r["fused_calls"] == [9], r  # refused once, then not tried again
    # Keras' own update (the lightened schedule's float64 rate differs from Keras' float32 one by ~1e-7)
    assert r["weights"] <= 1e-6 < r["moved"] and r["slots"] <= 1e-7, r
