"""Does Keras' own `LSTM(stateful=True)` carry its state through `fit` on this backend? (issue 15, stateful training)

Trains a tiny stateful model for one step, then two, and reports whether the layer's state moved. On Keras 3.15.1
(probed 2026-12-01): TensorFlow carries it; JAX does not (the state variables are untracked, so the jitted
stateless train step drops their updates, silently); torch fails in backward with "modified by an inplace
operation", with or without lstmgen's fused kernel (FUSED=1). Run once per backend:

    KERAS_BACKEND=tensorflow python bench/probe_keras_stateful.py
    KERAS_BACKEND=jax python bench/probe_keras_stateful.py
    KERAS_BACKEND=torch FUSED=1 python bench/probe_keras_stateful.py
"""

from __future__ import annotations

import os

import keras
import numpy as np


def main() -> None:
    if os.environ.get("FUSED"):
        from lstmgen.runtime import fused

        print(fused.install("fused"))
    batch, steps, vocab = 4, 5, 7
    ids = keras.Input(shape=(None,), batch_size=batch, dtype="int32")
    x = keras.layers.Embedding(vocab, 8)(ids)
    x = keras.layers.LSTM(6, return_sequences=True, stateful=True, name="lstm")(x)
    model = keras.Model(ids, keras.layers.Dense(vocab)(x))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    layer = model.get_layer("lstm")
    rng = np.random.default_rng(0)
    xs, ys = rng.integers(0, vocab, (batch, steps)), rng.integers(0, vocab, (batch, steps))
    print(f"backend {keras.backend.backend()}, Keras {keras.__version__}")
    print("state saved with the model's variables:", any("rnn_state" in v.path for v in model.variables))
    try:
        model.train_on_batch(xs, ys)
    except RuntimeError as e:
        print("training step failed:", str(e).splitlines()[0][:160])
        return
    first = np.array(keras.ops.convert_to_numpy(layer.states[0]))
    print("state carried after one step:", bool(np.abs(first).sum() > 0))
    model.fit(np.concatenate([xs, xs]), np.concatenate([ys, ys]), batch_size=batch, epochs=1, verbose=0, shuffle=False)
    print("state moved by fit:", not np.allclose(first, keras.ops.convert_to_numpy(layer.states[0])))


if __name__ == "__main__":
    main()
