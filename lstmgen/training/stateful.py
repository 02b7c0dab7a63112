"""Stateful training (char-rnn's scheme): each batch row continues the text, and the LSTM state, of the row before it.

Keras' own `stateful=True` layers carry their state only under TensorFlow (JAX drops the untracked state variables,
torch fails in backward: bench/probe_keras_stateful.py), so lstmgen carries it itself, in plain Keras that works on
every backend:

- the LSTM layers are built with `return_state=True`; the saved model (`Trainer.model`) ignores the states, so it
  stays a plain model that loads anywhere and samples as before;
- `stateful_model` wraps the same layers (so the same variables) in a model with two inputs, the ids and a
  per-row `keep` flag (0 at the first batch of a pass, which resets the state), whose `CarriedState` layer holds
  each LSTM's (h, c) in non-trainable variables: read at the start of the step, assigned its final state at the
  end, as BatchNormalization does with its moving averages;
- a checkpoint's state .json carries the variables (`carried_to_json`), so a resumed run continues exactly.

    >>> wrapper, carried = stateful_model(model, cfg, batch_size=32)   # doctest: +SKIP
    >>> wrapper.fit(StreamBatches(...))                                # doctest: +SKIP
"""

from __future__ import annotations

import base64

import numpy as np

from lstmgen.config import Config
from lstmgen.runtime.backend import keras
from lstmgen.training.model import lstm_layers

ops = keras.ops


class CarriedState(keras.layers.Layer):
    """The (h, c) of `layers` LSTMs of `units` for `batch` rows. Called on `(ids, keep)` it returns the states to
    start from (zeros where keep is 0); called on `[logits, h0, c0, h1, …]` in training it stores the final states
    and returns the logits unchanged."""

    def __init__(self, layers: int, units: int, batch: int, **kwargs):
        super().__init__(**kwargs)
        self.units, self.batch = units, batch
        self.states = [
            self.add_weight(shape=(batch, units), initializer="zeros", trainable=False, name=f"{kind}{i}")
            for i in range(layers)
            for kind in ("h", "c")
        ]

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, training=None):
        if len(inputs) == 2:  # (ids, keep): the states to start from
            keep = ops.cast(inputs[1], self.states[0].dtype)
            # `* keep` makes new tensors: torch's backward must not see the variables, assigned before it runs
            return [ops.convert_to_tensor(v) * keep for v in self.states]
        logits, finals = inputs[0], inputs[1:]
        if training:
            for var, final in zip(self.states, finals, strict=True):
                var.assign(ops.cast(ops.stop_gradient(final), var.dtype))
        return logits

    def compute_output_spec(self, inputs, training=None):
        if len(inputs) == 2:
            return [keras.KerasTensor((self.batch, self.units), dtype=self.variable_dtype) for _ in self.states]
        return keras.KerasTensor(inputs[0].shape, dtype=inputs[0].dtype)


def stateful_model(model: keras.Model, cfg: Config, batch_size: int) -> tuple[keras.Model, CarriedState]:
    """A model over `model`'s own layers taking `(ids, keep)` and carrying the LSTM state between calls. `model`
    must be built with `cfg.stateful` (LSTMs that return their state)."""
    ids = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="ids")
    keep = keras.Input(batch_shape=(batch_size, 1), dtype="float32", name="keep")
    carried = CarriedState(cfg.layers, cfg.units, batch_size, name="carried_state")
    start = carried([ids, keep])
    x = model.get_layer("embedding")(ids)
    finals = []
    for i, layer in enumerate(lstm_layers(model)):
        x, h, c = layer(x, initial_state=[start[2 * i], start[2 * i + 1]])
        finals += [h, c]
    if cfg.dropout:
        x = model.get_layer("output_dropout")(x)
    logits = carried([model.get_layer("logits")(x), *finals])
    return keras.Model([ids, keep], logits, name="lstmgen_stateful"), carried


def carried_to_json(carried: CarriedState) -> dict:
    """The carried states as JSON: float32 little-endian bytes in base64 (exact, and a quarter of decimal text)."""
    values = [np.asarray(keras.ops.convert_to_numpy(v), dtype="<f4") for v in carried.states]
    return {
        "shape": [carried.batch, carried.units],
        "states": [base64.b64encode(a.tobytes()).decode("ascii") for a in values],
    }


def restore_carried(carried: CarriedState, saved: dict | None) -> bool:
    """Put saved states back; False (states left at zero) when there are none or they do not fit this run (a
    changed batch size or model): the next pass then starts from a zero state, as every pass does."""
    try:
        shape = tuple(saved["shape"]) if saved else None
        if shape != (carried.batch, carried.units) or len(saved["states"]) != len(carried.states):  # type: ignore[index]
            return False
        arrays = [np.frombuffer(base64.b64decode(s), dtype="<f4").reshape(shape) for s in saved["states"]]  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return False
    for var, a in zip(carried.states, arrays, strict=True):
        var.assign(a.astype(var.dtype))
    return True
