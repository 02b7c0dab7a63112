"""Generation on the Keras backend's own device: `sample.StepModel`'s step written in keras.ops and compiled once.

On a GPU all streams share one compiled call per character, so many streams cost little more than one; on a CPU
the NumPy step is faster for every stream count measured (bench/bench_generate.py), so `engine="auto"` takes
NumPy there. Logits come back to the host and are sampled by the same NumPy samplers, so both engines draw from
one random stream and agree to float rounding. The backend-specific part is only `compile_step`.
"""

from __future__ import annotations

import numpy as np

from lstmgen.errors import LstmgenError
from lstmgen.generation.sample import StepModel

ENGINES = ("auto", "numpy", "keras")


def compile_step(fn):
    """The one backend seam: jax.jit, tf.function, or torch without autograd."""
    from lstmgen.runtime.backend import NAME

    if NAME == "jax":
        import jax

        return jax.jit(fn)
    if NAME == "tensorflow":
        from lstmgen.runtime.backend import import_tensorflow

        return import_tensorflow().function(fn, reduce_retracing=True)
    if NAME == "torch":
        import torch

        return torch.no_grad()(fn)
    return fn


def _step(params, ids, state):
    from lstmgen.runtime.backend import keras

    ops = keras.ops
    x, new_state = None, []
    for n, ((h, c), (w, second)) in enumerate(zip(state, params["layers"], strict=True)):
        if n == 0:  # second = recurrent kernel; the input term is a row of the precomputed table
            z = ops.take(w, ids, axis=0) + ops.matmul(h, second)
        else:  # second = bias; w = [kernel; recurrent] stacked
            z = ops.matmul(ops.concatenate([x, h], axis=1), w) + second
        u = h.shape[1]
        t = ops.tanh(z)  # sigmoid gates were pre-halved: sigmoid(z) = 0.5 * tanh(z / 2) + 0.5
        i, f, o = (0.5 * t[:, a * u : (a + 1) * u] + 0.5 for a in (0, 1, 3))
        c = f * c + i * t[:, 2 * u : 3 * u]
        h = o * ops.tanh(c)
        new_state.append((h, c))
        x = h
    return ops.matmul(x, params["dense_kernel"]) + params["dense_bias"], new_state


class DeviceStepModel:
    """Same interface as StepModel (zero_state, step → host logits), state kept on the backend's device."""

    def __init__(self, numpy_model: StepModel):
        from lstmgen.runtime.backend import keras

        t = keras.ops.convert_to_tensor
        self.units, self.vocab_size = numpy_model.units, numpy_model.vocab_size
        self.params = {
            "layers": [(t(w), t(r if n == 0 else b)) for n, (w, r, b) in enumerate(numpy_model.layers)],
            "dense_kernel": t(numpy_model.dense_kernel),
            "dense_bias": t(numpy_model.dense_bias),
        }
        self._step = compile_step(_step)

    def zero_state(self, batch: int) -> list:
        from lstmgen.runtime.backend import keras

        return [(keras.ops.zeros((batch, u), "float32"), keras.ops.zeros((batch, u), "float32")) for u in self.units]

    def step(self, ids: np.ndarray, state: list) -> tuple[np.ndarray, list]:
        from lstmgen.runtime.backend import keras

        logits, state = self._step(self.params, keras.ops.convert_to_tensor(np.asarray(ids, np.int32)), state)
        return keras.ops.convert_to_numpy(logits), state


def pick_engine(setting: str) -> str:
    """`auto` → the Keras backend's compiled step on a GPU, NumPy on a CPU (faster there, measured)."""
    if setting not in ENGINES:
        raise LstmgenError(f"--engine must be one of {', '.join(ENGINES)}, got {setting!r}")
    if setting != "auto":
        return setting
    from lstmgen.runtime.hardware import gpu_device_present

    if not gpu_device_present():  # no GPU device node: NumPy, without importing the backend (seconds)
        return "numpy"
    from lstmgen.runtime.backend import has_gpu

    return "keras" if has_gpu() else "numpy"


def for_engine(numpy_model: StepModel, engine: str):
    return DeviceStepModel(numpy_model) if engine == "keras" else numpy_model
