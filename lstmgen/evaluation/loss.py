"""A model's loss on an id stream: mean next-character cross-entropy in nats, bits/char and perplexity."""

from __future__ import annotations

import math

import numpy as np

from lstmgen.data.vocab import Vocab
from lstmgen.generation.scoring import predictions, target_log_probs
from lstmgen.util.output import current

LN2 = math.log(2)
LOGITS_BUDGET = 1 << 26  # logits held per batch (256 MB of float32): long windows or big vocabularies get fewer rows


def text_to_ids(text: str, vocab: Vocab, lowercase: bool) -> tuple[np.ndarray, dict]:
    """ids of `text` with unknown characters dropped, and what was dropped."""
    if lowercase:
        text = text.lower()
    ids = vocab.encode(text, unknown="drop")
    return ids, {"count": len(text) - ids.size, "chars": vocab.unknown_chars(text)}


def loss_on(model, ids: np.ndarray, seq_len: int, batch_size: int) -> dict:
    """Mean next-character cross-entropy over consecutive windows of `seq_len` (the LSTM state starts at zero in each,
    as in training validation); the last, shorter window is padded and masked."""
    n_pred = predictions(ids)
    seq_len = max(1, min(seq_len, n_pred))  # a window past the end of the text would score nothing more
    n_win = math.ceil(n_pred / seq_len)
    padded = np.zeros(n_win * seq_len + 1, dtype=np.int32)
    padded[: ids.size] = ids
    starts = np.arange(n_win) * seq_len
    weight = (starts[:, None] + np.arange(seq_len) < n_pred).astype(np.float64)
    total = 0.0
    vocab_size = int(model.output_shape[-1])
    batch_size = max(1, min(batch_size, n_win, LOGITS_BUDGET // (seq_len * vocab_size)))
    with current().bar(total=n_win, desc="evaluating", unit="window") as bar:
        for b in range(0, n_win, batch_size):
            s = starts[b : b + batch_size]
            window = padded[s[:, None] + np.arange(seq_len + 1)]
            x = np.zeros((batch_size, seq_len), np.int32)  # a fixed batch shape: one compiled function
            x[: len(s)] = window[:, :-1]
            logits = np.asarray(model.predict_on_batch(x))[: len(s)]
            logp = target_log_probs(logits, window[:, 1:])
            total -= float((logp * weight[b : b + batch_size]).sum())
            bar.update(len(s))
    nats = total / n_pred
    return {
        "predictions": n_pred,
        "windows": n_win,
        "seq_len": seq_len,
        "nats": nats,
        "bits_per_char": nats / LN2,
        "perplexity": math.exp(nats),
    }
