"""Keras' per-step work on the torch backend done in fewer operations: seeded dropout, the schedule, clipping.

On torch every Keras operation is an eager call with its Python around it. Measured on this CPU (torch 2.14,
Keras 3.15, bench/peer_torch.py's CPU default shape):

- Keras' seeded dropout builds a keep-probability tensor, a new `torch.Generator`, a boolean mask, a division, a
  zeros tensor and a `where`, and their backward: 1.3–2.3 ms forward and backward for the (32, 64, 256) output
  dropout, against 0.5 ms for drawing the (32, 1, 256) mask once and multiplying by it. `install()` routes seeded
  dropout to the latter. The seed is drawn from the layer's SeedGenerator exactly as Keras draws it, so the masks
  stay a function of the generator state that checkpoints carry (exact resume). Unseeded dropout stays Keras' own.
- The cosine schedule is ~15 scalar tensor operations per step and global-norm clipping a norm and a multiply per
  variable (together ~0.25 ms per step). `lighten(optimizer)` computes the rate in Python from the step counter
  (Keras' `CosineDecay` formula, in float64) and clips with torch's multi-tensor `_foreach` kernels (Keras' scale,
  NaN for a non-finite norm).
- Keras' torch Adam updates its slots and weights with ten `_foreach` calls, which on a CPU are ten passes over
  every weight with a new tensor each. `lighten` routes Adam and AdamW (whose decay Keras applies before the
  update) to PyTorch's fused Adam kernel (`torch._fused_adam_`, one pass), on Keras' own slot variables: steps
  1.02–1.03× faster (bench/adam_cost.py). Keras' epsilon is added to √v, PyTorch's to √v / √(1 − β₂ᵗ), so the
  kernel gets ε / √(1 − β₂ᵗ): the same update to float rounding. `lerp_averages` does the weight average's
  update (training/ema.py) in one multi-tensor pass.

The optimizer's class, config and saved state stay plain Keras, and so do the layers and `.keras` files. Elsewhere
(TensorFlow, JAX) the step is a traced graph and Keras' own code stays.

    >>> install()                       # doctest: +SKIP
    >>> lighten(model.optimizer)        # doctest: +SKIP
    True
"""

from __future__ import annotations

import math
import types
from typing import Any

from lstmgen.runtime.backend import NAME, keras

_GENERATOR: Any = None  # one torch.Generator, re-seeded for each mask (Keras makes a new one per call)
_FUSED_ADAM_WORKS: bool | None = None  # unknown until the first call


def install() -> bool:
    """On the torch backend, route Keras' seeded dropout to `dropout` below; says whether it did. Idempotent."""
    global _GENERATOR
    if NAME != "torch":
        return False
    import torch
    from keras.src.backend.torch import random

    if _GENERATOR is None:
        _GENERATOR = torch.Generator()

    keras_dropout = getattr(random.dropout, "keras_original", random.dropout)
    if random.dropout is keras_dropout:

        def seeded_dropout(inputs, rate, noise_shape=None, seed=None):
            return dropout(keras_dropout, inputs, rate, noise_shape, seed)

        seeded_dropout.keras_original = keras_dropout  # type: ignore[attr-defined]
        random.dropout = seeded_dropout
    return True


def dropout(keras_dropout, inputs, rate, noise_shape, seed):
    """Keras' torch `dropout` for a seeded layer: one Bernoulli(1 - rate) mask of `noise_shape`, scaled by
    1 / (1 - rate) and multiplied in (broadcast over the axes noise_shape leaves at 1). The mask has the inputs'
    dtype, so under bf16 the scale is rounded to bf16 (1.25 exactly at rate 0.2; 1.4297 for 1.4286 at 0.3)."""
    import torch
    from keras.src.backend.torch.core import convert_to_tensor, get_device
    from keras.src.random.seed_generator import SeedGenerator, draw_seed

    if (
        not isinstance(seed, SeedGenerator)
        or seed._initial_seed is None
        or not 0.0 < rate < 1.0
        or get_device() != "cpu"
        or torch.compiler.is_compiling()
    ):
        return keras_dropout(inputs, rate, noise_shape=noise_shape, seed=seed)
    inputs = convert_to_tensor(inputs)
    first, second = draw_seed(seed).tolist()  # what Keras' torch_seed_generator seeds its generator with
    _GENERATOR.manual_seed((first + second) & 0xFFFFFFFF)
    shape = list(inputs.shape)
    if noise_shape is not None:
        shape = [d if n is None else n for d, n in zip(shape, noise_shape, strict=True)]
    keep = 1.0 - rate
    mask = torch.empty(shape, dtype=inputs.dtype).bernoulli_(keep, generator=_GENERATOR).mul_(1.0 / keep)
    return inputs * mask


def lighten(optimizer) -> bool:
    """On the torch backend, make `optimizer`'s schedule and clipping cheap; says whether it did. Idempotent."""
    if NAME != "torch" or getattr(optimizer, "_lstmgen_light", False):
        return False
    keras_lr = optimizer._get_current_learning_rate
    keras_clip = optimizer._clip_gradients

    def current_learning_rate(self):
        schedule = self._learning_rate
        if type(schedule) is keras.optimizers.schedules.CosineDecay:
            return cosine_decay(schedule, int(self._iterations.value))
        return keras_lr()

    def clip_gradients(self, grads):
        if self.clipnorm or self.clipvalue or not self.global_clipnorm or self.global_clipnorm <= 0:
            return keras_clip(grads)
        return clip_by_global_norm(grads, self.global_clipnorm)

    optimizer._get_current_learning_rate = types.MethodType(current_learning_rate, optimizer)
    optimizer._clip_gradients = types.MethodType(clip_gradients, optimizer)
    if _fusable(optimizer):
        keras_update = optimizer._parallel_update_step

        def update_step(self, grads, variables, learning_rate):
            if not fused_adam(self, grads, variables, learning_rate):
                keras_update(grads, variables, learning_rate)

        optimizer._parallel_update_step = types.MethodType(update_step, optimizer)
    optimizer._lstmgen_light = True
    return True


def _fusable(optimizer) -> bool:
    import torch
    from keras.src.backend.torch.optimizers.torch_adam import Adam

    return isinstance(optimizer, Adam) and not optimizer.amsgrad and hasattr(torch, "_fused_adam_")


def _plain_cpu(tensors: list) -> bool:
    import torch

    return all(t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() for t in tensors)


def fused_adam(optimizer, grads: list, variables: list, learning_rate) -> bool:
    """Keras Adam's update of `variables` (and of its slots) by PyTorch's fused CPU kernel; False, doing nothing,
    where the tensors are not contiguous float32 on the CPU (Keras' own update runs then)."""
    import torch

    global _FUSED_ADAM_WORKS
    if _FUSED_ADAM_WORKS is False:
        return False
    params = [v.value for v in variables]
    index = optimizer._get_variable_index
    m = [optimizer._momentums[index(v)].value for v in variables]
    v2 = [optimizer._velocities[index(v)].value for v in variables]
    grads = [g.contiguous() for g in grads]
    if not (_plain_cpu(params) and _plain_cpu(grads) and _plain_cpu(m) and _plain_cpu(v2)):
        return False
    step = float(int(optimizer.iterations.value) + 1)
    beta_1, beta_2 = float(optimizer.beta_1), float(optimizer.beta_2)
    rate = float(keras.ops.convert_to_numpy(learning_rate))  # a Python float from `lighten`'s schedule, or a tensor
    try:
        with torch.no_grad():
            torch._fused_adam_(
                params,
                grads,
                m,
                v2,
                [],
                [torch.tensor(step)] * len(params),
                lr=rate,
                beta1=beta_1,
                beta2=beta_2,
                weight_decay=0.0,
                eps=float(optimizer.epsilon) / math.sqrt(1.0 - beta_2**step),
                amsgrad=False,
                maximize=False,
            )
    except (TypeError, RuntimeError, NotImplementedError):
        if _FUSED_ADAM_WORKS:  # it ran before: a real failure
            raise
        _FUSED_ADAM_WORKS = False  # a torch without the CPU kernel (before 2.4) or with another signature:
        return False  # refused at dispatch, before any tensor was touched; Keras' update from now on
    _FUSED_ADAM_WORKS = True
    return True


def lerp_averages(weights: list, averages: list, share: float) -> bool:
    """average += share · (weight − average) for each pair of Keras variables, in one multi-tensor call on the torch
    backend; False, doing nothing, elsewhere or where the tensors are not float32 on the CPU."""
    if NAME != "torch" or not weights:
        return False
    import torch

    w = [x.value for x in weights]
    a = [x.value for x in averages]
    if not (_plain_cpu(w) and _plain_cpu(a)):
        return False
    with torch.no_grad():
        torch._foreach_lerp_(a, w, share)
    return True


def cosine_decay(schedule, step: int) -> float:
    """`keras.optimizers.schedules.CosineDecay(...)(step)`, with its optional linear warm-up, in Python floats."""
    decay_steps = float(schedule.decay_steps)
    if schedule.warmup_target is None:
        return _decayed(schedule, min(step, decay_steps), decay_steps, schedule.initial_learning_rate)
    warmup = float(schedule.warmup_steps)
    at = min(float(step), decay_steps + warmup)
    if at < warmup:
        start = schedule.initial_learning_rate
        return (schedule.warmup_target - start) * (at / warmup) + start
    return _decayed(schedule, at - warmup, decay_steps, schedule.warmup_target)


def _decayed(schedule, step: float, decay_steps: float, peak: float) -> float:
    cosine = 0.5 * (1.0 + math.cos(math.pi * (step / decay_steps)))
    return peak * ((1 - schedule.alpha) * cosine + schedule.alpha)


def clip_by_global_norm(grads: list, clip_norm: float) -> list:
    """Keras' `clip_by_global_norm` (scale = min(1, clip / norm); NaN when the norm is not finite) in three
    multi-tensor calls; scales the gradients in place and returns the list."""
    import torch

    present = [g for g in grads if g is not None]
    if not present:
        return grads
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(present)))
    scale = clip_norm * torch.clamp(1.0 / norm, max=1.0 / clip_norm) + (norm - norm)
    torch._foreach_mul_(present, scale)
    return grads
