"""Stateful scoring: a model's loss on a text with the LSTM state carried from character to character, as the LSTM
papers report bits/char, instead of restarting from a zero state every `seq_len` characters.

The text is cut into `streams` contiguous pieces scored side by side (one NumPy step per character of a piece,
all pieces in one batch), each carrying its state from its own first character; one stream is the whole text in
one pass, more streams are faster and only the first few characters of each piece start cold.

>>> from lstmgen.generation.weights import read_step_model
>>> stateful_loss(read_step_model("runs/book/best.keras"), ids)["nats"]    # doctest: +SKIP
1.4213
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from lstmgen.errors import LstmgenError
from lstmgen.generation.sample import SINGLE_THREAD_BELOW, StepModel

# Pieces of the validation text scored side by side. Each piece of a 100k-character split is then ~6k characters
# long, so the cold start (the LSTM forgets a zero state within ~100 characters) touches ~1 % of the predictions;
# bench/bench_stateful_eval.py measures the difference against one stream.
STREAMS = 16


def stateful_loss(step_model: StepModel, ids: np.ndarray, streams: int = STREAMS) -> dict:
    """Mean next-character cross-entropy (nats) of `ids` with the state carried through each of `streams`
    contiguous pieces of the text."""
    n_pred = max(int(ids.size) - 1, 0)
    if n_pred == 0:
        raise LstmgenError("the text to evaluate has fewer than 2 known characters; give a longer text")
    streams = max(1, min(int(streams), n_pred))
    length = math.ceil(n_pred / streams)
    starts = np.arange(streams) * length
    padded = np.zeros(streams * length + 1, dtype=np.int64)
    padded[: ids.size] = ids
    total = 0.0
    state = step_model.zero_state(streams)
    rows = np.arange(streams)
    with threadpool_limits(limits=1 if streams < SINGLE_THREAD_BELOW else None, user_api="blas"):
        for t in range(length):
            pos = starts + t
            live = pos < n_pred
            logits, state = step_model.step(padded[pos], state)
            z = logits.astype(np.float64)
            z -= z.max(axis=1, keepdims=True)
            logp = z[rows, padded[pos + 1]] - np.log(np.exp(z).sum(axis=1))
            total -= float(logp[live].sum())
    nats = total / n_pred
    return {"predictions": n_pred, "streams": streams, "nats": nats, "bits_per_char": nats / math.log(2)}
