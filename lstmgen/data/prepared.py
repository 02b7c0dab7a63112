"""A prepared directory (ids.bin + vocab.json + meta.json) loaded back and checked; `prepare.py` writes one.

ids.bin is the whole corpus as one little-endian uint8/uint16 id stream (training part, then the last
`val_fraction` as validation), memory-mapped on load so batches can be cut without copies.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstmgen import FORMAT_VERSION
from lstmgen.data.download import file_sha256
from lstmgen.data.sources import PREPARED_FORMAT
from lstmgen.data.vocab import Vocab
from lstmgen.errors import DataError, LstmgenError

__all__ = ["FILES", "Prepared", "load_prepared", "open_prepared"]

FILES = ("ids.bin", "vocab.json", "meta.json")
_REPREPARE = "re-run `lstmgen prepare`"


@dataclass
class Prepared:
    """A loaded prepared directory; `ids` is a read-only memory map of ids.bin.

    `notes` holds remarks from the preparation that just happened (e.g. skipped binary files), shown by summary().
    """

    path: Path
    meta: dict
    vocab: Vocab
    ids: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def train(self) -> np.ndarray:
        return self.ids[: self.meta["n_train"]]

    @property
    def val(self) -> np.ndarray:
        return self.ids[self.meta["n_train"] : self.meta["n_train"] + self.meta["n_val"]]

    def summary(self) -> str:
        m = self.meta
        return "\n".join(
            [
                f"prepared   {self.path}",
                f"chars      {m['n_chars']:,} ({m['dtype']} ids, encoding {m['encoding']}"
                + (", lowercased)" if m["lowercase"] else ")"),
                f"vocabulary {m['vocab_size']:,} characters",
                f"split      train {m['n_train']:,} / validation {m['n_val']:,} (last {m['val_fraction']:g})",
                *(f"note       {n}" for n in self.notes),
            ]
        )


def open_prepared(path: Path, meta: dict, vocab: Vocab) -> Prepared:
    """`path` as a Prepared, ids.bin memory-mapped; `meta` and `vocab` are taken as already checked."""
    ids = np.memmap(
        path / "ids.bin", dtype=np.dtype(meta["dtype"]).newbyteorder("<"), mode="r", shape=(meta["n_chars"],)
    )
    return Prepared(path=path, meta=meta, vocab=vocab, ids=ids)


def _corrupt(path: Path, why: str) -> DataError:
    return DataError(
        f"{path} is not an lstmgen prepared directory, or is corrupt or from an incompatible version ({why}); "
        f"{_REPREPARE} to rebuild it"
    )


def load_prepared(path: str | os.PathLike, *, verify: bool = True) -> Prepared:
    """Open a prepared directory after checking its metadata against ids.bin and vocab.json.

    verify=True also checks ids.bin's sha256 (about 1 s per GB).
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path} is not a directory; run `lstmgen prepare SOURCE -o {path}` first")
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _corrupt(path, "no meta.json") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise _corrupt(path, f"unreadable meta.json: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != PREPARED_FORMAT:
        raise _corrupt(path, "meta.json has no lstmgen-prepared format marker")
    if meta.get("version") != FORMAT_VERSION:
        raise _corrupt(path, f"format version {meta.get('version')!r}, this lstmgen reads {FORMAT_VERSION}")
    ints = ("n_chars", "n_train", "n_val", "vocab_size")
    if any(type(meta.get(k)) is not int or meta[k] < 0 for k in ints) or meta.get("dtype") not in ("uint8", "uint16"):
        raise _corrupt(path, "meta.json lacks valid dtype/n_chars/n_train/n_val/vocab_size")
    if meta["n_train"] + meta["n_val"] != meta["n_chars"] or meta["n_chars"] == 0:
        raise _corrupt(path, "n_train + n_val does not equal n_chars")
    try:
        vocab = Vocab.load(path / "vocab.json")
    except LstmgenError as e:
        raise _corrupt(path, str(e).split("; ")[0]) from None
    if vocab.size != meta["vocab_size"] or vocab.dtype.name != meta["dtype"]:
        raise _corrupt(
            path, f"vocab.json has {vocab.size} characters, meta.json says {meta['vocab_size']} ({meta['dtype']})"
        )
    expected = meta["n_chars"] * np.dtype(meta["dtype"]).itemsize
    try:
        size = (path / "ids.bin").stat().st_size
    except OSError:
        raise _corrupt(path, "no ids.bin") from None
    if size != expected:
        raise _corrupt(path, f"ids.bin has {size:,} bytes, expected {expected:,}")
    if verify:
        if file_sha256(path / "ids.bin") != meta.get("sha256"):
            raise _corrupt(path, "ids.bin does not match its sha256 in meta.json")
    return open_prepared(path, meta, vocab)
