"""What may be read as an input, and how much of it: regular files and '-' (stdin) only, within stated limits.

A character or block device (/dev/zero, /dev/urandom), a FIFO or a socket never ends or blocks on open, so a path
is checked with os.stat before it is opened; a stream is read only up to a limit, with the limit in the message.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lstmgen.errors import DataError
from lstmgen.util.limits import size_text

_KINDS = (
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISFIFO, "named pipe (FIFO)"),
    (stat.S_ISSOCK, "socket"),
)


def special_kind(mode: int) -> str | None:
    """'character device', 'named pipe (FIFO)', … for what is neither a regular file nor a directory."""
    return next((name for test, name in _KINDS if test(mode)), None)


def is_special(path: str | os.PathLike) -> bool:
    try:
        return special_kind(os.stat(path).st_mode) is not None
    except OSError:
        return False  # reading it reports the problem


def check_regular(path: str | os.PathLike, label: str, fix: str) -> os.stat_result:
    """os.stat of `path` (following links), refusing a special file with one line; missing paths raise OSError."""
    st = os.stat(path)
    kind = special_kind(st.st_mode)
    if kind:
        raise DataError(f"{label} is a {kind}, not a regular file; {fix}")
    return st


def read_stream(stream, limit: int, what: str, fix: str) -> bytes:
    """Read a stream to its end, refusing more than `limit` bytes: "{what} reads at most N MB; {fix}"."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(1 << 20, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise DataError(f"{what} reads at most {size_text(limit)}; {fix}")


def read_regular(path: Path, label: str, fix: str, bound: tuple[int, str, str] | None = None) -> bytes:
    """The bytes of a regular file (special files refused before opening it). With bound=(limit, what, fix), more
    than `limit` bytes are refused: "{what} reads at most N MB; {fix}"."""
    try:
        st = check_regular(path, label, fix)
        if bound is not None and st.st_size > bound[0]:
            raise DataError(
                f"{bound[1]} reads at most {size_text(bound[0])}, {label} has {size_text(st.st_size)}; {bound[2]}"
            )
        with open(path, "rb") as f:
            return read_stream(f, *bound) if bound is not None else f.read()
    except OSError as e:
        raise DataError(f"cannot read {label} ({e.strerror or e}); check the path and its permissions") from None
