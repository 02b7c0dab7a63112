"""Character vocabulary: chars <-> integer ids, vectorised with NumPy, plus forgiving mapping of unknown characters."""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from lstmgen.errors import DataError, LstmgenError
from lstmgen.util.atomic import write_json

FORMAT = "lstmgen-vocab"
VERSION = 1
MAX_SIZE = 65536  # ids are stored as uint16

# Replacements tried, in order, for a character the vocabulary lacks (before NFKC/NFKD and case tricks).
# Straight forms map to curly ones too, for corpora that only ever use typographic quotes and dashes.
_TYPOGRAPHIC: dict[str, tuple[str, ...]] = {
    "\u2018": ("'",),
    "\u2019": ("'",),
    "\u201a": ("'", ","),
    "\u201b": ("'",),
    "\u2032": ("'",),
    "\u201c": ('"',),
    "\u201d": ('"',),
    "\u201e": ('"',),
    "\u201f": ('"',),
    "\u2033": ('"',),
    "\u00ab": ('"',),
    "\u00bb": ('"',),
    "\u2039": ("'",),
    "\u203a": ("'",),
    "\u2010": ("-",),
    "\u2011": ("-",),
    "\u2012": ("-",),
    "\u2013": ("-",),
    "\u2014": ("-", "--"),
    "\u2015": ("-",),
    "\u2212": ("-",),
    "\u2026": ("...",),
    "\u2022": ("*", "-"),
    "\u00b7": (".", "*"),
    "\u00a0": (" ",),
    "\u2007": (" ",),
    "\u202f": (" ",),
    "\u2009": (" ",),
    "\u3000": (" ",),
    "\t": (" ",),
    "\u2028": ("\n",),
    "\u2029": ("\n",),
    "\r": ("\n",),
    "\n": (" ",),
    "'": ("\u2019", "\u2018"),
    '"': ("\u201c", "\u201d"),
    "-": ("\u2013", "\u2014"),
    "...": ("\u2026",),
}


def dtype_for_size(size: int) -> np.dtype:
    """uint8 for up to 256 symbols, uint16 up to 65,536; larger is a user error."""
    if size <= 256:
        return np.dtype(np.uint8)
    if size <= MAX_SIZE:
        return np.dtype(np.uint16)
    raise DataError(
        f"vocabulary of {size:,} characters is too large (at most {MAX_SIZE:,}); "
        "consider --lowercase or cleaning the text"
    )


def text_codes(text: str) -> np.ndarray:
    """Code points of `text` as a uint32 array (no per-character Python loop)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


class Vocab:
    """An ordered set of single characters; a character's id is its position in `chars`."""

    def __init__(self, chars: Sequence[str]):
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1 or 0xD800 <= ord(c) <= 0xDFFF:
                raise ValueError(f"vocabulary entries must be single characters, got {c!r}")
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary contains duplicate characters")
        if not chars:
            raise ValueError("vocabulary is empty")
        self.chars: list[str] = chars
        self.index: dict[str, int] = {c: i for i, c in enumerate(chars)}
        self.dtype = dtype_for_size(len(chars))
        self._codes = text_codes("".join(chars))  # uint32, in id order
        self._order = np.argsort(self._codes, kind="stable")
        self._sorted_codes = self._codes[self._order]

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """Sorted unique characters of `text`."""
        codes = np.unique(text_codes(text))
        return cls.from_codes(codes)

    @classmethod
    def from_codes(cls, codes: np.ndarray) -> Vocab:
        chars = np.asarray(codes, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
        return cls(list(chars))

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: object) -> bool:
        return ch in self.index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and other.chars == self.chars

    def __repr__(self) -> str:
        return f"Vocab(size={self.size})"

    # -- encoding -------------------------------------------------------------------------------------------

    def _lookup(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ids for `codes` and a boolean mask of which codes are in the vocabulary."""
        pos = np.searchsorted(self._sorted_codes, codes)
        pos = np.minimum(pos, len(self._sorted_codes) - 1)
        known = self._sorted_codes[pos] == codes
        return self._order[pos], known

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of `text` not in the vocabulary, each once, in order of first appearance."""
        codes = text_codes(text)
        unk = codes[~self._lookup(codes)[1]]
        if unk.size == 0:
            return []
        uniq, first = np.unique(unk, return_index=True)
        return list(uniq[np.argsort(first)].tobytes().decode("utf-32-le", "surrogatepass"))

    def map_char(self, ch: str) -> str:
        """The closest in-vocabulary spelling of `ch` ('' when there is none)."""
        if ch in self.index:
            return ch
        for cand in self._candidates(ch):
            if cand and all(c in self.index for c in cand):
                return cand
        return ""

    def _candidates(self, ch: str) -> Iterable[str]:
        bases: list[str] = list(_TYPOGRAPHIC.get(ch, ()))
        try:
            nfkc = unicodedata.normalize("NFKC", ch)
            bases += [nfkc, _strip_accents(nfkc), _strip_accents(ch)]
        except ValueError:  # lone surrogates cannot be normalised
            pass
        for base in bases:
            yield base
            yield from (base.swapcase(), base.lower(), base.upper())
            # a normalised form may itself need a typographic replacement (e.g. NFKC gives "...")
            yield from _TYPOGRAPHIC.get(base, ())

    def map_text(self, text: str) -> str:
        """`text` with every unknown character replaced by `map_char` (possibly dropped)."""
        unknown = self.unknown_chars(text)
        if not unknown:
            return text
        return text.translate({ord(c): self.map_char(c) for c in unknown})

    def encode(self, text: str, unknown: str = "error") -> np.ndarray:
        """ids for `text` (dtype uint8/uint16 by vocabulary size).

        unknown: "error" raises DataError naming the unknown characters; "map" replaces them with a close
        in-vocabulary spelling (é->e, ’->', …->..., case swap) or drops them; "drop" removes them.
        """
        if unknown not in ("error", "map", "drop"):
            raise ValueError(f"unknown must be 'error', 'map' or 'drop', not {unknown!r}")
        if unknown == "map":
            text = self.map_text(text)
        codes = text_codes(text)
        ids, known = self._lookup(codes)
        if not known.all():
            if unknown == "error":
                bad = self.unknown_chars(text)
                shown = ", ".join(repr(c) for c in bad[:10]) + (", …" if len(bad) > 10 else "")
                raise DataError(
                    f"text contains {len(bad)} character(s) not in the vocabulary: {shown}; "
                    "remove them or let lstmgen map them to known characters"
                )
            ids = ids[known]
        return ids.astype(self.dtype)

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        ids = np.asarray(ids)
        if ids.size == 0:
            return ""
        if ids.min() < 0 or ids.max() >= self.size:
            raise ValueError(f"ids must be in [0, {self.size}), got {int(ids.min())}..{int(ids.max())}")
        return self._codes[ids.astype(np.intp)].astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    # -- persistence ----------------------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "size": self.size, "chars": list(self.chars)}

    @classmethod
    def from_json(cls, obj: object) -> Vocab:
        fix = "re-run `lstmgen prepare` to rebuild it"
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise DataError(f"not an lstmgen vocabulary (format is not {FORMAT!r}); {fix}")
        if obj.get("version") != VERSION:
            raise DataError(
                f"lstmgen vocabulary version {obj.get('version')!r} is not supported (expected {VERSION}); {fix}"
            )
        chars = obj.get("chars")
        if not isinstance(chars, list) or not chars:
            raise DataError(f"lstmgen vocabulary has no 'chars' list; {fix}")
        if "size" in obj and obj["size"] != len(chars):
            raise DataError(f"lstmgen vocabulary says size {obj['size']!r} but lists {len(chars)} characters; {fix}")
        try:
            return cls(chars)
        except ValueError as e:
            raise DataError(f"invalid lstmgen vocabulary: {e}; {fix}") from None

    def save(self, path: str | os.PathLike) -> None:
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        path = Path(path)
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"vocabulary file {path} not found; re-run `lstmgen prepare`") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"cannot read vocabulary {path} ({e}); re-run `lstmgen prepare`") from None
        try:
            return cls.from_json(obj)
        except LstmgenError as e:
            raise DataError(f"{path}: {e}") from None


def run_vocab_for(base_chars: list[str], data_vocab: Vocab, mode: str) -> Vocab:
    """The vocabulary of a fine-tuning run: the new corpus's ("corpus"), or its union with the base's ("union",
    sorted by code point like every lstmgen vocabulary).

    >>> run_vocab_for(["a", "z"], Vocab("ab"), "union").chars
    ['a', 'b', 'z']
    """
    if mode == "union":
        return Vocab(sorted(set(base_chars) | set(data_vocab.chars)))
    return data_vocab
