"""How much of a generated text is copied from the training corpus: a suffix array over the corpus ids (prefix
doubling in NumPy), matching statistics by binary search, the longest copied substring and the share of n-grams
that occur in the corpus.
"""

from __future__ import annotations

import bisect
from array import array

import numpy as np


def suffix_array(ids: np.ndarray) -> np.ndarray:
    """Start positions of the suffixes of `ids` in lexicographic order (a shorter suffix before its extensions).

    Prefix doubling: sort by the first L symbols packed into one int64, then repeatedly by (rank of the first h
    symbols, rank of the next h), re-sorting only groups that are still tied (Larsson–Sadakane). A few seconds for
    a few million symbols.
    """
    s = np.asarray(ids).astype(np.int64)
    n = s.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if s.min() < 0:
        raise ValueError("ids must be non-negative")
    bits = int(s.max() + 1).bit_length()  # symbols are stored +1 so that 0 means "past the end"
    width = max(1, 62 // bits)
    key = np.zeros(n, dtype=np.int64)
    for j in range(width):
        key <<= bits
        if j < n:
            key[: n - j] |= s[j:] + 1
    sa = np.argsort(key, kind="stable")
    sorted_key = key[sa]
    starts_group = np.ones(n, dtype=bool)
    starts_group[1:] = sorted_key[1:] != sorted_key[:-1]
    rank = np.empty(n, dtype=np.int64)  # rank = position in `sa` where the suffix's group begins
    rank[sa] = np.maximum.accumulate(np.where(starts_group, np.arange(n), 0))
    h = width
    while True:
        singleton = starts_group & np.append(starts_group[1:], True)
        active = np.flatnonzero(~singleton)  # positions in `sa` whose group is still tied
        if active.size == 0:
            return sa
        suf = sa[active]
        first = rank[suf]
        second = np.full(suf.size, -1, dtype=np.int64)
        inside = suf + h < n
        second[inside] = rank[suf[inside] + h]
        order = np.lexsort((second, first))
        suf, first, second = suf[order], first[order], second[order]
        sa[active] = suf
        new = np.ones(active.size, dtype=bool)
        new[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
        rank[suf] = np.maximum.accumulate(np.where(new, active, 0))
        starts_group[active] = new
        h *= 2


class CorpusIndex:
    """A corpus (array of ids) with its suffix array, answering 'does this sequence occur?' in O(m log n)."""

    def __init__(self, ids: np.ndarray):
        ids = np.asarray(ids)
        self.n = int(ids.size)
        self.width = 1 if self.n == 0 or int(ids.max()) < 256 else 2
        self.text = self.encode(ids)
        self.sa = array("q", suffix_array(ids).tobytes())  # plain ints on indexing: fast for bisect

    def encode(self, ids: np.ndarray) -> bytes:
        """Bytes whose lexicographic order is the order of the id sequences (big-endian for 2-byte ids)."""
        return np.asarray(ids).astype(np.uint8 if self.width == 1 else ">u2").tobytes()

    def occurs(self, pattern: bytes) -> bool:
        """Does the encoded `pattern` occur in the corpus?"""
        m, t, w = len(pattern), self.text, self.width
        i = bisect.bisect_left(self.sa, pattern, key=lambda s: t[s * w : s * w + m])
        return i < self.n and t[self.sa[i] * w : self.sa[i] * w + m] == pattern

    def matching_lengths(self, ids: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
        """ms[i] = length of the longest prefix of ids[i:] that occurs in the corpus (0 at unknown positions)."""
        ids = np.asarray(ids)
        m = ids.size
        known = np.ones(m, dtype=bool) if known is None else np.asarray(known, dtype=bool)
        if self.width == 1 and m and int(ids.max(initial=0)) >= 256:
            known = known & (ids < 256)  # ids the corpus cannot hold never match
        q = self.encode(np.where(known, ids, 0))
        w = self.width
        ms = np.zeros(m, dtype=np.int64)
        j = 0
        for i in range(m):
            j = max(j, i)  # q[i:j] occurs because q[i-1:j] did
            while j < m and known[j] and self.occurs(q[i * w : (j + 1) * w]):
                j += 1
            ms[i] = j - i
        return ms


def novelty(index: CorpusIndex, ids: np.ndarray, n: int = 20, known: np.ndarray | None = None) -> dict:
    """The longest copied substring (start, length) and how many of the n-grams of `ids` occur in the corpus."""
    ms = index.matching_lengths(ids, known)
    total = max(ids.size - n + 1, 0)
    copied = int((ms[:total] >= n).sum()) if total else 0
    start = int(ms.argmax()) if ms.size else 0
    return {
        "chars": int(ids.size),
        "longest_copy": int(ms.max(initial=0)),
        "longest_copy_start": start,
        "ngrams": total,
        "ngrams_copied": copied,
        "ngram_share": copied / total if total else None,
    }


def pool(reports: list[dict]) -> dict:
    """Totals over several samples: the longest copy of all and the pooled n-gram share."""
    ngrams = sum(r["ngrams"] for r in reports)
    copied = sum(r["ngrams_copied"] for r in reports)
    longest = [r["longest_copy"] for r in reports]
    return {
        "samples": len(reports),
        "chars": sum(r["chars"] for r in reports),
        "ngrams": ngrams,
        "ngrams_copied": copied,
        "ngram_share": copied / ngrams if ngrams else None,
        "longest_copy": max(longest, default=0),
        "median_longest_copy": float(np.median(longest)) if longest else 0.0,
    }
