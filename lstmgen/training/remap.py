"""A base model's weights carried over to a new vocabulary (fine-tuning). NumPy only.

Only the embedding rows and the logits layer's columns and biases depend on the vocabulary; the LSTM layers are
copied as they are. A character both vocabularies share keeps its rows. A character the base lacks starts:
- from a look-alike the base has (curly quote ’ from ', é from e, — from -: the replacements `Vocab.map_char`
  tries) when there is one: it then reads and is predicted where the look-alike was, its logit bias shifted by the log
  of the two characters' frequency ratio in the new training text. The two stay separate characters: nothing is merged.
- otherwise from the mean embedding row, with a zero logits column and a bias that makes its predicted probability
  its frequency in the new training text (the bias offset is the median, over shared characters, of bias minus log
  frequency). Such a character starts as "rare, context-free" and is learned from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lstmgen.data.vocab import Vocab
from lstmgen.runs.kerasfile import Weights


@dataclass
class Remapped:
    """The new vocabulary's weights and what happened to each character."""

    weights: Weights
    shared: int
    lookalike: dict[str, str] = field(default_factory=dict)  # new char → the base char it started from
    averaged: list[str] = field(default_factory=list)  # new chars started from the mean
    dropped: list[str] = field(default_factory=list)  # base chars the new vocabulary does not keep

    def summary(self) -> str:
        def show(chars) -> str:
            text = " ".join(repr(c)[1:-1] for c in list(chars)[:12])
            return text + (" …" if len(chars) > 12 else "")

        parts = [f"{self.shared} characters shared with the base"]
        if self.lookalike:
            pairs = " ".join(f"{repr(n)[1:-1]}←{repr(o)[1:-1]}" for n, o in list(self.lookalike.items())[:8])
            parts.append(
                f"{len(self.lookalike)} new, started from look-alikes ({pairs}"
                + (" …)" if len(self.lookalike) > 8 else ")")
            )
        if self.averaged:
            parts.append(f"{len(self.averaged)} new, started from the average ({show(self.averaged)})")
        if self.dropped:
            parts.append(f"{len(self.dropped)} of the base's not used ({show(self.dropped)})")
        return "; ".join(parts)

    def record(self) -> dict:
        return {
            "shared": self.shared,
            "lookalike": self.lookalike,
            "averaged": "".join(self.averaged),
            "dropped": "".join(self.dropped),
        }


def _lookalike(ch: str, base: Vocab) -> str | None:
    alt = base.map_char(ch)
    return alt if len(alt) == 1 and alt != ch else None


def remap(weights: Weights, base: Vocab, new: Vocab, counts: np.ndarray) -> Remapped:
    """`weights` (over `base`) carried to `new`; `counts[i]` is how often new id i occurs in the training text.

    >>> r = remap(w, Vocab("ab"), Vocab("abc"), np.array([5, 3, 1]))   # doctest: +SKIP
    >>> r.averaged
    ['c']
    """
    emb, kernel, bias = weights.embedding, weights.kernel, weights.bias
    freq = (np.asarray(counts, dtype=np.float64) + 0.5) / (float(np.sum(counts)) + 0.5 * new.size)
    log_f = np.log(freq)
    shared_new = [i for i, c in enumerate(new.chars) if c in base]
    shared_old = [base.index[new.chars[i]] for i in shared_new]
    seen = [j for j, i in enumerate(shared_new) if counts[i] > 0]
    offset = (
        float(np.median(bias[[shared_old[j] for j in seen]] - log_f[[shared_new[j] for j in seen]]))
        if seen
        else float(np.mean(bias))
    )
    new_emb = np.empty((new.size, emb.shape[1]), dtype=np.float32)
    new_kernel = np.zeros((kernel.shape[0], new.size), dtype=np.float32)
    new_bias = np.empty(new.size, dtype=np.float32)
    out = Remapped(weights, shared=len(shared_new))
    for i, ch in enumerate(new.chars):
        if ch in base:
            j = base.index[ch]
            new_emb[i], new_kernel[:, i], new_bias[i] = emb[j], kernel[:, j], bias[j]
            continue
        alt = _lookalike(ch, base)
        if alt is not None:
            j = base.index[alt]
            new_emb[i], new_kernel[:, i] = emb[j], kernel[:, j]
            k = new.index.get(alt)
            shift = log_f[i] - log_f[k] if k is not None and counts[k] > 0 else 0.0
            new_bias[i] = bias[j] + shift
            out.lookalike[ch] = alt
        else:
            new_emb[i] = emb.mean(axis=0)
            new_bias[i] = offset + log_f[i]
            out.averaged.append(ch)
    out.dropped = [c for c in base.chars if c not in new]
    cells = [
        (np.array(k, dtype=np.float32), np.array(r, dtype=np.float32), np.array(b, dtype=np.float32))
        for k, r, b in weights.cells
    ]
    out.weights = Weights(new_emb, cells, new_kernel, new_bias)
    return out
