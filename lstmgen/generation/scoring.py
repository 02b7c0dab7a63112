"""Stateful scoring: a model's loss on a text with the LSTM state carried from character to character, as the LSTM
papers report bits/char, instead of restarting from a zero state every `seq_len` characters.

The text is cut into `streams` contiguous pieces scored side by side (all pieces in one batch, a layer at a time
over a few hundred characters per call, `StepModel.forward`), each carrying its state from its own first
character; one stream is the whole text in one pass, more streams are faster and only the first few characters of
each piece start cold.

>>> from lstmgen.generation.weights import read_step_model
>>> stateful_loss(read_step_model("runs/book/best.keras"), ids, streams=16)["nats"]    # doctest: +SKIP
1.4213
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from lstmgen.errors import LstmgenError
from lstmgen.generation.sample import SINGLE_THREAD_BELOW, StepModel

# Predictions (time steps × streams) per `StepModel.forward` call: enough for its input products to be large, few
# enough that one layer's inputs (rows × 4 units floats) stay tens of MB.
CHUNK_ROWS = 4096


def predictions(ids: np.ndarray) -> int:
    """How many next-character predictions a text of `ids` holds; refused when there are none."""
    n_pred = max(int(ids.size) - 1, 0)
    if n_pred == 0:
        raise LstmgenError("the text to evaluate has fewer than 2 known characters; give a longer text")
    return n_pred


def target_log_probs(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log softmax(logits)[target] in float64, over the last axis (any leading shape)."""
    z = np.array(logits, dtype=np.float64).reshape(-1, logits.shape[-1])  # a copy, changed in place below
    z -= z.max(axis=1, keepdims=True)
    picked = z[np.arange(z.shape[0]), np.ravel(targets)]
    return (picked - np.log(np.exp(z).sum(axis=1))).reshape(np.shape(targets))


def stateful_loss(step_model: StepModel, ids: np.ndarray, streams: int) -> dict:
    """Mean next-character cross-entropy (nats) of `ids` with the state carried through each of `streams`
    contiguous pieces of the text (a run's `stateful_val_streams`)."""
    n_pred = predictions(ids)
    streams = max(1, min(int(streams), n_pred))
    length = math.ceil(n_pred / streams)
    starts = np.arange(streams) * length
    padded = np.zeros(streams * length + 1, dtype=np.int64)
    padded[: ids.size] = ids
    total = 0.0
    state = step_model.zero_state(streams)
    with threadpool_limits(limits=1 if streams < SINGLE_THREAD_BELOW else None, user_api="blas"):
        chunk = max(1, CHUNK_ROWS // streams)
        for t0 in range(0, length, chunk):
            pos = starts[None, :] + np.arange(t0, min(t0 + chunk, length))[:, None]  # (time, streams)
            logits, state = step_model.forward(padded[pos], state)
            total -= float(target_log_probs(logits, padded[pos + 1])[pos < n_pred].sum())
    nats = total / n_pred
    return {"predictions": n_pred, "streams": streams, "nats": nats, "bits_per_char": nats / math.log(2)}
