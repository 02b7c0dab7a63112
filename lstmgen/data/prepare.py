"""`lstmgen prepare`: text -> a prepared directory (see prepared.py), and the cache of them `train` uses."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from lstmgen import FORMAT_VERSION, __version__
from lstmgen.data.download import cache_subdir
from lstmgen.data.prepared import FILES, Prepared, load_prepared, open_prepared
from lstmgen.data.sources import PREPARED_FORMAT, fetch, is_prepared_dir, read_fetched, source_list
from lstmgen.data.vocab import Vocab, dtype_for_size, text_codes
from lstmgen.errors import DataError, LstmgenError
from lstmgen.util.atomic import TMP_MARK, clean_stale_temps, write_bytes, write_json

__all__ = ["encode_corpus", "prepare", "prepared_for_training"]

_CHUNK = 1 << 24  # characters per chunk when encoding, to bound temporary memory


def encode_corpus(text: str) -> tuple[Vocab, np.ndarray]:
    """Vocabulary (sorted unique characters) and the id stream of `text`, vectorised in chunks."""
    counts = np.zeros(0, dtype=np.int64)
    for start in range(0, len(text), _CHUNK):
        c = np.bincount(text_codes(text[start : start + _CHUNK]))
        if c.size > counts.size:
            c[: counts.size] += counts
            counts = c
        else:
            counts[: c.size] += c
    present = np.flatnonzero(counts)
    dtype = dtype_for_size(present.size)  # DataError when the vocabulary is too large
    vocab = Vocab.from_codes(present)
    lut = np.zeros(counts.size, dtype=dtype)
    lut[present] = np.arange(present.size, dtype=dtype)
    ids = np.empty(len(text), dtype=dtype)
    for start in range(0, len(text), _CHUNK):
        codes = text_codes(text[start : start + _CHUNK])
        ids[start : start + codes.size] = lut[codes]
    return vocab, ids


def _check_val_fraction(val_fraction: float) -> float:
    try:
        f = float(val_fraction)
    except (TypeError, ValueError):
        f = math.nan
    if not (0.0 <= f < 1.0):
        raise DataError(f"--val-fraction must be at least 0 and below 1, got {val_fraction!r}; e.g. --val-fraction 0.1")
    return f


def _differs(old: dict, new: dict) -> bool:
    """True if `old` is a complete preparation of other data (or split) than `new`: replacing it breaks its runs."""
    keys = ("sha256", "n_train", "n_val", "vocab_size", "dtype")
    return "sha256" in old and any(old.get(k) != new.get(k) for k in keys)


def _prepare_out_dir(out: Path, meta: dict, force: bool = False) -> None:
    """Create `out`, or check that it holds nothing but lstmgen prepared files (never clobber user files), and not
    another corpus's preparation unless `force`."""
    if out.exists() and not out.is_dir():
        raise DataError(f"output {out} exists and is not a directory; choose another -o DIR")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in FILES and not p.name.startswith(TMP_MARK))
        if foreign:
            shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
            raise DataError(
                f"output directory {out} already holds files that lstmgen did not write ({shown}); "
                "choose another -o DIR or empty it"
            )
        old = _read_meta(out)
        present = [name for name in FILES if (out / name).exists()]  # with no meta.json of lstmgen's
        if not force and old is None and present:
            raise DataError(
                f"output directory {out} holds {', '.join(present)}, not written by lstmgen (no meta.json "
                "of its own); choose another -o DIR, or pass --force to replace them"
            )
        if not force and old is not None and _differs(old, meta):
            sources = ", ".join(map(str, old.get("sources") or []))
            raise DataError(
                f"output directory {out} already holds another prepared corpus ({sources[:60]}, "
                f"{old.get('n_chars', 0):,} characters, val fraction {old.get('val_fraction')}); runs "
                "trained on it need it as it is: choose another -o DIR, or pass --force to replace it"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(out)
        # Un-commit an older preparation first, so a crash midway never pairs new ids with old metadata; the
        # incomplete meta.json still says the folder is lstmgen's, so the next prepare may finish it.
        write_json(out / "meta.json", {"format": PREPARED_FORMAT, "version": FORMAT_VERSION, "state": "incomplete"})
    except OSError as e:
        raise DataError(f"cannot write to {out} ({e.strerror or e}); choose a writable -o DIR") from None


def _read_meta(out: Path) -> dict | None:
    """meta.json of an lstmgen prepared directory (complete or not), else None."""
    try:
        meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == PREPARED_FORMAT else None


def _write_prepared(
    text: str, info: dict, out: Path, *, lowercase: bool, val_fraction: float, force: bool = False
) -> Prepared:
    vocab, ids = encode_corpus(text)
    n = int(ids.size)
    n_val = min(round(n * val_fraction), n - 1)
    data = ids.astype(ids.dtype.newbyteorder("<"), copy=False).tobytes()
    meta = {
        "format": PREPARED_FORMAT,
        "version": FORMAT_VERSION,
        "dtype": ids.dtype.name,
        "n_chars": n,
        "n_train": n - n_val,
        "n_val": n_val,
        "vocab_size": vocab.size,
        "val_fraction": val_fraction,
        "encoding": info["encoding"],
        "lowercase": bool(lowercase),
        "sources": list(info["sources"]),
        "sha256": hashlib.sha256(data).hexdigest(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "lstmgen_version": __version__,
    }
    _prepare_out_dir(out, meta, force)
    try:
        write_bytes(out / "ids.bin", data)
        vocab.save(out / "vocab.json")
        write_json(out / "meta.json", meta)  # last: its presence commits the directory
    except OSError as e:
        raise DataError(
            f"cannot write to {out} ({e.strerror or e}); choose a writable -o DIR with free space"
        ) from None
    prepared = open_prepared(out, meta, vocab)
    if info["skipped"]:
        shown = ", ".join(Path(s).name for s in info["skipped"][:5]) + (", …" if len(info["skipped"]) > 5 else "")
        prepared.notes.append(f"skipped {len(info['skipped'])} binary file(s): {shown}")
    if info["special"]:
        shown = ", ".join(Path(s).name for s in info["special"][:5]) + (", …" if len(info["special"]) > 5 else "")
        prepared.notes.append(f"skipped {len(info['special'])} special file(s) (FIFO, device or socket): {shown}")
    return prepared


def _prepare_fetched(fetched, out_dir, *, encoding, lowercase, val_fraction, force=False) -> Prepared:
    text, info = read_fetched(fetched, encoding)
    if lowercase:
        text = text.lower()
    out = Path(out_dir) if out_dir is not None else Path.cwd() / "prepared" / info["name"]
    return _write_prepared(text, info, out, lowercase=lowercase, val_fraction=val_fraction, force=force)


def prepare(
    sources: Sequence[str],
    out_dir: str | os.PathLike | None = None,
    *,
    encoding: str | None = None,
    lowercase: bool = False,
    val_fraction: float = 0.1,
    force: bool = False,
) -> Prepared:
    """Read SOURCEs, build the vocabulary and id stream, write a prepared directory and return it loaded.

    out_dir defaults to ./prepared/<name>, name taken from the first source. A folder holding another corpus's
    preparation (or ids.bin/vocab.json lstmgen did not write) is refused unless `force`.
    """
    val_fraction = _check_val_fraction(val_fraction)
    fetched = [fetch(s) for s in source_list(sources)]
    return _prepare_fetched(
        fetched, out_dir, encoding=encoding, lowercase=lowercase, val_fraction=val_fraction, force=force
    )


def _cache_key(fetched, options: dict) -> str:
    h = hashlib.sha256(b"lstmgen-prepared-cache\0")
    h.update(json.dumps(options, sort_keys=True).encode())
    for piece in (p for f in fetched for p in f.pieces):
        data = piece.data if piece.data is not None else piece.text.encode("utf-8", "surrogatepass")
        h.update(b"\0piece\0%d\0" % len(data))
        h.update(data)
    return h.hexdigest()


def prepared_for_training(source: str, cache_dir: str | os.PathLike | None = None, **prepare_opts) -> Prepared:
    """A prepared directory for `source`: loaded as is if it already is one, else prepared into the cache.

    Cache entries live in `cache_dir` (default `<cache root>/prepared`) under a key hashing the source bytes and
    the options, so an unchanged source is prepared only once.
    """
    path = Path(source).expanduser()
    if is_prepared_dir(path) or (path.is_dir() and (path / "ids.bin").is_file() and (path / "vocab.json").is_file()):
        return load_prepared(path)
    opts = {
        "encoding": prepare_opts.pop("encoding", None),
        "lowercase": bool(prepare_opts.pop("lowercase", False)),
        "val_fraction": _check_val_fraction(prepare_opts.pop("val_fraction", 0.1)),
    }
    if prepare_opts:
        raise TypeError(f"unexpected prepare options: {', '.join(prepare_opts)}")
    fetched = [fetch(source)]
    root = Path(cache_dir) if cache_dir is not None else cache_subdir("prepared")
    out = root / _cache_key(fetched, opts)[:32]
    if is_prepared_dir(out):
        try:
            return load_prepared(out)
        except LstmgenError:
            pass  # a damaged cache entry is simply rebuilt
    return _prepare_fetched(fetched, out, force=True, **opts)  # the cache entry is lstmgen's, keyed by its data
