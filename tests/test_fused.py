"""The fused LSTM kernel (lstmgen/fused.py) computes what Keras' own LSTM computes: logits and gradients equal on the
same weights. It exists on the torch backend, so these run where torch is installed (each in a fresh process)."""

import pytest

from torchrun import needs_torch, run_torch

CHECK = r"""
import json, numpy as np, keras, torch
from lstmgen.runtime import fused
from lstmgen.config import Config
from lstmgen.training.model import build_model
policy = __import__("sys").argv[1]
keras.mixed_precision.set_global_policy(policy)
rng = np.random.default_rng(0)
x = torch.from_numpy(rng.integers(0, 30, size=(4, 13)).astype("int32"))
y = torch.from_numpy(rng.integers(0, 30, size=(4, 13)).astype("int32"))
cfg = Config(embedding_dim=8, layers=2, units=16, dropout=0.0)
def run(kernel):
    fused.install(kernel)
    keras.utils.set_random_seed(1)
    model = build_model(cfg, 30)
    logits = model(x, training=True)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    grads = torch.autograd.grad(loss, [v.value for v in model.trainable_weights])
    return logits.detach().float().numpy(), [g.float().numpy() for g in grads]
a, ga = run("keras")
b, gb = run("fused")
print(json.dumps({"logits": float(np.abs(a - b).max()),
                  "grads": max(float(np.abs(p - q).max()) for p, q in zip(ga, gb, strict=True)),
                  "scale": float(np.abs(a).max()), "gscale": max(float(np.abs(g).max()) for g in ga),
                  "said": fused.install("auto")}))
"""


@pytest.mark.slow
@needs_torch
@pytest.mark.parametrize("policy, tol", [("float32", 1e-5), ("mixed_bfloat16", 3e-2)])
def test_fused_matches_keras(policy, tol):
    r = run_torch(CHECK, policy)
    if policy == "float32":
        assert r["logits"] <= 1e-5 and r["grads"] <= 1e-5, r  # absolute, as the issue asks
    # relative to the values' size too: bf16 keeps ~3 digits, and the two paths round at different points
    assert r["logits"] <= tol * r["scale"] and r["grads"] <= tol * r["gscale"], r
    assert "fused" in r["said"]


def test_fused_refused_where_it_does_not_exist():
    from lstmgen.errors import LstmgenError
    from lstmgen.runtime import fused
    from lstmgen.runtime.backend import NAME

    if NAME == "torch":
        pytest.skip("the fused kernel exists on torch")
    with pytest.raises(LstmgenError, match="needs the torch backend"):
        fused.install("fused")
    assert "keras" in fused.install("auto")


CROSS_ENTROPY = r"""
import json, numpy as np, keras, torch
from keras.src.backend.torch import nn
from lstmgen.runtime import fused
keras_ce = nn.sparse_categorical_crossentropy
fused.install("keras")  # the loss layout is installed on torch whatever the LSTM kernel
ours = nn.sparse_categorical_crossentropy
rng = np.random.default_rng(0)
out = {}
for shape, tshape in (((4, 7, 11), (4, 7)), ((4, 7, 11), (4, 7, 1)), ((5, 11), (5,))):
    logits = torch.tensor(rng.normal(size=shape) * 3, dtype=torch.float32, requires_grad=True)
    target = torch.from_numpy(rng.integers(0, 11, size=tshape))
    a, b = keras_ce(target, logits, from_logits=True), ours(target, logits, from_logits=True)
    (ga,) = torch.autograd.grad(a.sum(), logits)
    (gb,) = torch.autograd.grad(b.sum(), logits)
    out[str(shape) + str(tshape)] = [list(a.shape) == list(b.shape), float((a - b).abs().max()),
                                     float((ga - gb).abs().max())]
out["idempotent"] = fused.install("auto") and nn.sparse_categorical_crossentropy.keras_original is keras_ce
print(json.dumps(out))
"""


@needs_torch
def test_flattened_cross_entropy_equals_keras_own():
    r = run_torch(CROSS_ENTROPY)
    assert r.pop("idempotent") is True
    for case, (same_shape, loss_diff, grad_diff) in r.items():
        assert same_shape and loss_diff <= 1e-6 and grad_diff <= 1e-6, (case, loss_diff, grad_diff)
