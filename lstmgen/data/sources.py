"""SOURCE arguments (files, directories, stdin, URLs, builtins, catalog names) -> raw pieces -> one text.

Example: `read_sources(["book.txt", "builtin:reber"])` returns `(text, info)`; decoding lives in decode.py,
downloads and the cache in download.py, the catalog of public corpora in catalog.py.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lstmgen.data.decode import BOMS, decode_bytes, looks_binary
from lstmgen.data.download import download, safe_name, url_name
from lstmgen.errors import DataError
from lstmgen.util.inputs import is_special, read_regular, read_stream
from lstmgen.util.limits import STDIN_BYTES
from lstmgen.util.output import current

PREPARED_FORMAT = "lstmgen-prepared"
BUILTIN_PREFIX = "builtin:"


def is_prepared_dir(path: str | os.PathLike) -> bool:
    """Cheap check: a directory whose meta.json declares the lstmgen prepared format."""
    meta = Path(path) / "meta.json"
    try:
        return Path(path).is_dir() and json.loads(meta.read_text("utf-8")).get("format") == PREPARED_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# -- fetching ---------------------------------------------------------------------------------------------------


@dataclass
class Piece:
    """One input: raw bytes (or ready text, for builtins) plus where it came from."""

    label: str
    data: bytes | None = None
    text: str | None = None


@dataclass
class Fetched:
    """What one SOURCE argument expanded to."""

    source: str  # as recorded in metadata
    name: str  # default output-directory name
    pieces: list[Piece] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)  # FIFOs, devices, sockets in a directory: skipped


def _read_file(path: Path, bound: tuple[int, str, str] | None = None) -> bytes:
    """A regular file's bytes; a device, FIFO or socket is refused before it is opened (it would never end)."""
    return read_regular(path, str(path), "pass a text file, a directory of them or '-' for stdin", bound)


def _fetch_dir(d: Path, bound: tuple[int, str, str] | None = None) -> Fetched:
    files: list[Path] = []
    for root, dirs, names in os.walk(d):
        dirs[:] = [
            x for x in dirs if not x.startswith(".") and x != "__pycache__" and not is_prepared_dir(Path(root, x))
        ]
        files += [Path(root, n) for n in names if not n.startswith(".")]
    files.sort(key=lambda p: p.relative_to(d).parts)
    fetched = Fetched(str(d.resolve()), safe_name(d.resolve().name))
    with current().bar(total=len(files), desc=f"reading {d.name or d}", unit="file") as bar:
        for f in files:
            bar.update(1)
            if is_special(f):
                fetched.special.append(str(f))
                continue
            data = _read_file(f, bound)
            if not data.strip():
                continue
            if looks_binary(data) and not data.startswith(tuple(b for b, _ in BOMS)):
                fetched.skipped.append(str(f))
                continue
            fetched.pieces.append(Piece(str(f), data=data))
    if not fetched.pieces:
        raise DataError(
            f"directory {d} contains no text files ({len(fetched.skipped)} binary and {len(fetched.special)} special "
            "file(s) skipped; hidden files and directories are ignored); point to a directory holding text files"
        )
    return fetched


def fetch(source: str, bound: tuple[int, str, str] | None = None) -> Fetched:
    """Expand one SOURCE argument into its raw pieces (reads files, stdin, downloads, builds builtins).

    A bare NAME that is no existing path is looked up in the corpus catalog (catalog.py); an existing path wins.

    bound=(limit, what, fix) caps each file and stdin; stdin is capped at limits.STDIN_BYTES anyway."""
    if source == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None or (hasattr(stdin, "isatty") and stdin.isatty()):
            raise DataError(
                "SOURCE '-' reads stdin, but nothing is piped in; use e.g. `cat book.txt | lstmgen prepare -`"
            )
        try:
            data = read_stream(
                stdin, *(bound or (STDIN_BYTES, "'-' (standard input)", "save the text to a file and pass its path"))
            )
            return Fetched("-", "stdin", [Piece("<stdin>", data=data)])
        except OSError as e:
            raise DataError(f"cannot read stdin ({e}); pass a file path instead") from None
    if source.startswith(BUILTIN_PREFIX):
        from lstmgen.data.builtin import builtin_text

        name = source[len(BUILTIN_PREFIX) :]
        return Fetched(source, safe_name(name), [Piece(source, text=builtin_text(name))])
    if re.match(r"https?://", source, re.I):
        return Fetched(source, url_name(source), [Piece(source, data=download(source).read_bytes())])
    path = Path(source).expanduser()
    if is_prepared_dir(path):
        raise DataError(f"{source} is already a prepared directory; pass it to `lstmgen train` instead of preparing it")
    if path.is_dir():
        return _fetch_dir(path, bound)
    if not path.exists():
        from lstmgen.data import catalog

        entry = catalog.lookup(source)  # a bare NAME that is no file: a corpus from the catalog
        if entry is not None:
            cached = catalog.resolve(entry)
            return Fetched(entry.name, safe_name(entry.name), [Piece(str(cached), data=_read_file(cached, bound))])
        raise DataError(
            f"{source}: no such file or directory, nor a catalog name ({', '.join(catalog.names()) or 'none'}); "
            f"pass a text file, a directory, '-', an http(s) URL, builtin:NAME or a catalog name"
        )
    return Fetched(str(path.resolve()), safe_name(path.stem), [Piece(str(path), data=_read_file(path, bound))])


def read_fetched(fetched: Sequence[Fetched], encoding: str | None = None) -> tuple[str, dict]:
    """Decode and concatenate fetched pieces (a newline between pieces where one does not end with one)."""
    parts: list[str] = []
    encodings: list[str] = []
    for piece in (p for f in fetched for p in f.pieces):
        if piece.text is not None:
            text, enc = piece.text, "builtin"
        else:
            if not piece.data:
                continue
            text, enc = decode_bytes(piece.data, piece.label, encoding)
        if not text:
            continue
        if parts and not parts[-1].endswith("\n"):
            parts.append("\n")
        parts.append(text)
        encodings.append(enc)
    text = "".join(parts)
    labels = [f.source for f in fetched]
    if not text.strip():
        raise DataError(f"input is empty ({', '.join(labels)}); pass a file with some text in it")
    info = {
        "sources": labels,
        "files": [p.label for f in fetched for p in f.pieces],
        "encodings": encodings,
        "encoding": ",".join(dict.fromkeys(encodings)),
        "skipped": [s for f in fetched for s in f.skipped],
        "special": [s for f in fetched for s in f.special],
        "name": fetched[0].name,
    }
    return text, info


def source_list(sources: Sequence[str] | str) -> list[str]:
    """SOURCE arguments as a list (one string is one SOURCE); none at all is a DataError."""
    if isinstance(sources, str):
        sources = [sources]
    if not sources:
        raise DataError(
            "no SOURCE given; pass a text file, a directory, '-', an http(s) URL, builtin:NAME or a "
            "catalog name such as tinyshakespeare"
        )
    return list(sources)


def read_sources(
    sources: Sequence[str], encoding: str | None = None, bound: tuple[int, str, str] | None = None
) -> tuple[str, dict]:
    """Read and decode SOURCE arguments in order; returns (text, info) where info records sources and encodings."""
    return read_fetched([fetch(s, bound) for s in source_list(sources)], encoding)
