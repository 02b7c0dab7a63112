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
    optimizer._lstmgen_light = True
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
