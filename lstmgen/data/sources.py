"""Reading SOURCE arguments (files, directories, stdin, URLs, builtins) and decoding their bytes to text."""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from lstmgen import __version__
from lstmgen.util.output import current
from lstmgen.util.atomic import atomic_path
from lstmgen.errors import DataError
from lstmgen.util.inputs import is_special, read_regular, read_stream
from lstmgen.util.limits import STDIN_BYTES

PREPARED_FORMAT = "lstmgen-prepared"
BUILTIN_PREFIX = "builtin:"

_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Bytes that never appear in text: C0 controls other than \t \n \v \f \r and ESC, plus DEL.
_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[[*range(0, 9), *range(14, 27), *range(28, 32), 127]] = True

# Non-ASCII symbols that legitimately touch letters in Western text (quotes, apostrophes, dashes, openers).
_WESTERN_OK = set("\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u00ab\u00bb\u2039\u203a\u2013\u2014\u2010\u2011"
                  "\u00b7\u2022\u00a1\u00bf\u00a0\u00b0\u2026\u2020\u2021\u00a7\u00b6\u00a3\u20ac\u00a9\u00ae\u2122")
_ACCENTED_WORD = re.compile(r"[^\W\d_]*[^\x00-\x7f\W\d_][^\W\d_]*")
_SYMBOL_BEFORE_LETTER = re.compile(r"(?<=(.))([^\w\s\x00-\x7f])(?=[^\W\d_])", re.S)


def cache_root() -> Path:
    """`$LSTMGEN_CACHE`, else `$XDG_CACHE_HOME/lstmgen`, else `~/.cache/lstmgen`."""
    env = os.environ.get("LSTMGEN_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lstmgen"


def cache_subdir(name: str) -> Path:
    d = cache_root() / name
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create cache directory {d} ({e.strerror}); set LSTMGEN_CACHE to a writable directory")
    return d


def is_prepared_dir(path: str | os.PathLike) -> bool:
    """Cheap check: a directory whose meta.json declares the lstmgen prepared format."""
    meta = Path(path) / "meta.json"
    try:
        return Path(path).is_dir() and json.loads(meta.read_text("utf-8")).get("format") == PREPARED_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


# -- decoding ---------------------------------------------------------------------------------------------------

def looks_binary(data: bytes) -> bool:
    """NUL bytes anywhere, or more than 5% control bytes in the first 64 KiB."""
    if b"\0" in data:
        return True
    head = np.frombuffer(data[:65536], dtype=np.uint8)
    return head.size > 0 and _CONTROL[head].mean() > 0.05


def _western_plausible(text: str) -> bool:
    """Does a cp1252 decoding read like Western European text rather than mojibake of another codepage?

    Cyrillic/Greek codepages decoded as cp1252 give words made almost entirely of accented letters; Central
    European ones give symbols glued to letters ('³atwe' for 'łatwe').
    """
    sample = text[:1_000_000]
    accented = long_words = 0
    for m in _ACCENTED_WORD.finditer(sample):
        w = m.group()
        if len(w) >= 3:
            long_words += len(w)
            accented += sum(ord(c) > 127 for c in w)
    if long_words and accented / long_words > 0.5:
        return False
    suspicious = sum(
        1 for m in _SYMBOL_BEFORE_LETTER.finditer(sample)
        if m.group(2) not in _WESTERN_OK or (m.group(1).isalpha() and m.group(2) in "\u00a1\u00bf\u00ab\u201e")
    )
    n_high = len(sample) - len(sample.encode("ascii", "ignore"))
    return suspicious <= max(2, 0.02 * n_high)


def _guess_with_charset_normalizer(data: bytes, label: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    sample = data[:262144]
    if len(data) > len(sample) and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # do not cut a multibyte character in half
    for match in from_bytes(sample):
        try:
            return data.decode(match.encoding), codecs.lookup(match.encoding).name
        except (UnicodeDecodeError, LookupError):
            continue
    raise DataError(f"{label}: could not detect the text encoding; pass --encoding (e.g. --encoding cp1252)")


def _binary_error(label: str) -> DataError:
    return DataError(
        f"{label} looks binary (NUL or control bytes), not text; pass a plain-text file "
        "(UTF-16 without a byte-order mark needs --encoding utf-16-le or utf-16-be)"
    )


def check_encoding(encoding: str | None) -> str | None:
    """The codec's canonical name; an unknown one is a DataError."""
    try:
        return codecs.lookup(encoding).name if encoding else None
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}; use a Python codec name such as utf-8, cp1252, "
                        "latin-1") from None


def decode_bytes(data: bytes, label: str, encoding: str | None = None) -> tuple[str, str]:
    """Decode `data` to text with newlines normalised to \\n; returns (text, encoding used)."""
    if encoding:
        enc = check_encoding(encoding)
        if not enc.startswith(("utf-16", "utf-32")) and looks_binary(data):
            raise _binary_error(label)
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as e:
            raise DataError(
                f"{label}: byte 0x{data[e.start]:02x} at byte offset {e.start} cannot be decoded as {enc} "
                f"({e.reason}); pass the right --encoding or omit it to auto-detect"
            ) from None
    else:
        text, enc = _detect_and_decode(data, label)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n"), enc


def _detect_and_decode(data: bytes, label: str) -> tuple[str, str]:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{label} starts with a {enc} byte-order mark but is not valid {enc} at byte offset {e.start}; "
                    "pass the right --encoding"
                ) from None
    if looks_binary(data):
        raise _binary_error(label)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        if _western_plausible(text):
            return text, "cp1252"
    except UnicodeDecodeError:
        pass
    return _guess_with_charset_normalizer(data, label)


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


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "corpus"


def _read_file(path: Path, bound: tuple[int, str, str] | None = None) -> bytes:
    """A regular file's bytes; a device, FIFO or socket is refused before it is opened (it would never end)."""
    return read_regular(path, str(path), "pass a text file, a directory of them or '-' for stdin", bound)


def _fetch_dir(d: Path, bound: tuple[int, str, str] | None = None) -> Fetched:
    files: list[Path] = []
    for root, dirs, names in os.walk(d):
        dirs[:] = [x for x in dirs if not x.startswith(".") and x != "__pycache__"
                   and not is_prepared_dir(Path(root, x))]
        files += [Path(root, n) for n in names if not n.startswith(".")]
    files.sort(key=lambda p: p.relative_to(d).parts)
    fetched = Fetched(str(d.resolve()), _safe_name(d.resolve().name))
    with current().bar(total=len(files), desc=f"reading {d.name or d}", unit="file") as bar:
        for f in files:
            bar.update(1)
            if is_special(f):
                fetched.special.append(str(f))
                continue
            data = _read_file(f, bound)
            if not data.strip():
                continue
            if looks_binary(data) and not data.startswith(tuple(b for b, _ in _BOMS)):
                fetched.skipped.append(str(f))
                continue
            fetched.pieces.append(Piece(str(f), data=data))
    if not fetched.pieces:
        raise DataError(
            f"directory {d} contains no text files ({len(fetched.skipped)} binary and {len(fetched.special)} special "
            "file(s) skipped; hidden files and directories are ignored); point to a directory holding text files"
        )
    return fetched


def download(url: str) -> Path:
    """Download `url` once into the cache (keyed by the URL's sha256) and return the cached file."""
    dest = cache_subdir("downloads") / hashlib.sha256(url.encode("utf-8")).hexdigest()
    if dest.is_file():
        return dest
    import http.client
    import urllib.error
    import urllib.request

    fix = "check the URL and your connection, or download the file yourself and pass its path"
    try:
        req = urllib.request.Request(url, headers={"User-Agent": f"lstmgen/{__version__}"})
        with urllib.request.urlopen(req, timeout=60) as resp, atomic_path(dest) as tmp:
            size = resp.headers.get("Content-Length")
            with open(tmp, "wb") as f, current().bar(total=int(size) if size and size.isdigit() else None, unit="B",
                                               unit_scale=True, desc=f"downloading {_url_name(url)}") as bar:
                while chunk := resp.read(1 << 16):
                    f.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise DataError(f"could not download {url}: HTTP {e.code} {e.reason}; {fix}") from None
    except urllib.error.URLError as e:
        raise DataError(f"could not download {url}: {e.reason}; {fix}") from None
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise DataError(f"could not download {url}: {e or type(e).__name__}; {fix}") from None
    return dest


def _url_name(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    base = Path(parts.path).stem if parts.path.strip("/") else ""
    return _safe_name(base or parts.hostname or "download")


def fetch(source: str, bound: tuple[int, str, str] | None = None) -> Fetched:
    """Expand one SOURCE argument into its raw pieces (reads files, stdin, downloads, builds builtins).

    bound=(limit, what, fix) caps each file and stdin; stdin is capped at limits.STDIN_BYTES anyway."""
    if source == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None or (hasattr(stdin, "isatty") and stdin.isatty()):
            raise DataError(
                "SOURCE '-' reads stdin, but nothing is piped in; use e.g. `cat book.txt | lstmgen prepare -`"
            )
        try:
            data = read_stream(stdin, *(bound or (STDIN_BYTES, "'-' (standard input)",
                                                  "save the text to a file and pass its path")))
            return Fetched("-", "stdin", [Piece("<stdin>", data=data)])
        except OSError as e:
            raise DataError(f"cannot read stdin ({e}); pass a file path instead") from None
    if source.startswith(BUILTIN_PREFIX):
        from lstmgen.data.builtin import builtin_text

        name = source[len(BUILTIN_PREFIX):]
        return Fetched(source, _safe_name(name), [Piece(source, text=builtin_text(name))])
    if re.match(r"https?://", source, re.I):
        return Fetched(source, _url_name(source), [Piece(source, data=download(source).read_bytes())])
    path = Path(source).expanduser()
    if is_prepared_dir(path):
        raise DataError(f"{source} is already a prepared directory; pass it to `lstmgen train` instead of preparing it")
    if path.is_dir():
        return _fetch_dir(path, bound)
    if not path.exists():
        raise DataError(
            f"{source}: no such file or directory; pass a text file, a directory, '-', an http(s) URL or builtin:NAME"
        )
    return Fetched(str(path.resolve()), _safe_name(path.stem), [Piece(str(path), data=_read_file(path, bound))])


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


def read_sources(sources: Sequence[str], encoding: str | None = None,
                 bound: tuple[int, str, str] | None = None) -> tuple[str, dict]:
    """Read and decode SOURCE arguments in order; returns (text, info) where info records sources and encodings."""
    if isinstance(sources, str):
        sources = [sources]
    if not sources:
        raise DataError("no SOURCE given; pass a text file, a directory, '-', an http(s) URL or builtin:NAME")
    return read_fetched([fetch(s, bound) for s in sources], encoding)
