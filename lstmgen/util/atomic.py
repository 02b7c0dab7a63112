"""Crash-safe file writes: temp file in the same directory, fsync, os.replace, fsync of the directory."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

TMP_MARK = ".tmp-"


def fsync_dir(directory: str | os.PathLike) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path` (same suffix, so Keras accepts it); on success it replaces `path`.

    The caller writes the temp file by any means (e.g. `model.save(tmp)`). If the block raises, the temp file is
    removed and `path` is untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_MARK + path.stem + "-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # writers such as Keras/h5py want to create the file themselves
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def json_text(obj) -> str:
    """How lstmgen writes JSON files: indented, non-ASCII kept, trailing newline."""
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json_text(obj))


def clean_stale_temps(directory: str | os.PathLike) -> list[str]:
    """Remove temp files left by a killed writer; returns their names."""
    removed: list[str] = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for p in directory.iterdir():
        if p.name.startswith(TMP_MARK) and p.is_file():
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p.name)
    return removed
