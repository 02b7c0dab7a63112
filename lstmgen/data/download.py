"""The cache directory and downloads into it: http(s) URLs fetched once, optionally checked against size and sha256.

Example: `download("https://example.org/book.txt")` returns the cached file (no request the second time).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from lstmgen import __version__
from lstmgen.errors import DataError
from lstmgen.util.atomic import atomic_path
from lstmgen.util.output import current

URL_FIX = "check the URL and your connection, or download the file yourself and pass its path"


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
        raise DataError(
            f"cannot create cache directory {d} ({e.strerror}); set LSTMGEN_CACHE to a writable directory"
        ) from None
    return d


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in blocks (a prepared ids.bin, a base model, a download)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def safe_name(name: str) -> str:
    """`name` reduced to a file-name-safe token: `safe_name("War & Peace")` is `"War_Peace"`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "corpus"


def url_name(url: str) -> str:
    """A short name for what `url` points to: the file stem, else the host."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    base = Path(parts.path).stem if parts.path.strip("/") else ""
    return safe_name(base or parts.hostname or "download")


def download(
    url: str,
    dest: Path | None = None,
    *,
    size: int | None = None,
    sha256: str | None = None,
    what: str | None = None,
    fix: str = URL_FIX,
) -> Path:
    """Download `url` once into `dest` (default: the cache, keyed by the URL's sha256) and return `dest`.

    With `size`/`sha256` the bytes are checked as they arrive; a mismatch is a DataError and nothing is kept.
    Errors read `could not download WHAT: REASON; FIX` (WHAT defaults to the URL).
    """
    if dest is None:
        dest = cache_subdir("downloads") / hashlib.sha256(url.encode("utf-8")).hexdigest()
    if dest.is_file():
        return dest
    import http.client
    import urllib.error
    import urllib.request

    what = what or url
    try:
        req = urllib.request.Request(url, headers={"User-Agent": f"lstmgen/{__version__}"})
        with urllib.request.urlopen(req, timeout=60) as resp, atomic_path(dest) as tmp:
            length = resp.headers.get("Content-Length")
            total = size or (int(length) if length and length.isdigit() else None)
            h, got = hashlib.sha256(), 0
            with (
                open(tmp, "wb") as f,
                current().bar(total=total, unit="B", unit_scale=True, desc=f"downloading {url_name(url)}") as bar,
            ):
                while chunk := resp.read(1 << 16):
                    f.write(chunk)
                    h.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
            _verify(what, url, got, h.hexdigest(), size, sha256)  # raising here discards the temp file
    except urllib.error.HTTPError as e:
        raise DataError(f"could not download {what}: HTTP {e.code} {e.reason}; {fix}") from None
    except urllib.error.URLError as e:
        raise DataError(f"could not download {what}: {e.reason}; {fix}") from None
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise DataError(f"could not download {what}: {e or type(e).__name__}; {fix}") from None
    return dest


def _verify(what: str, url: str, got: int, digest: str, size: int | None, sha256: str | None) -> None:
    fix = (
        "the file at the URL has changed or the download was damaged; try again, or download it yourself and "
        "pass the file's path"
    )
    if size is not None and got != size:
        raise DataError(f"download of {what} from {url} has {got:,} bytes, expected {size:,}; {fix}")
    if sha256 is not None and digest != sha256.lower():
        raise DataError(f"download of {what} from {url} has sha256 {digest}, expected {sha256}; {fix}")
