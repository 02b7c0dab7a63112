"""Who trains a run: an exclusive `flock` on RUN/.lock, held by an open file for the whole life of the training.

The operating system releases the lock when the process dies, however it dies, so a lock file left behind never
blocks (even when its pid now belongs to another process). The file also holds JSON {pid, host, started} for
`lstmgen runs`/`info` and for the message a second trainer gets. No TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType

from lstmgen.errors import RunError

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; the pid in the file is all there is
    fcntl = None

RECENT_LOG_SECONDS = 120  # a train.log written this recently counts as a running run (lock of another host)


def holder(path: Path) -> dict:
    """The JSON a lock file holds ({} when missing, being written or not JSON)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe(info: dict) -> str:
    pid, host, since = info.get("pid"), info.get("host"), info.get("started")
    parts = [f"pid {pid}" if pid is not None else "another process"]
    if host and host != socket.gethostname():
        parts.append(f"on host {host}")
    if since:
        parts.append(f"since {since}")
    return " ".join(parts)


def _flock_exclusive(fd: int, tries: int = 10) -> None:
    """LOCK_EX, non-blocking, but tried a few times over half a second: `lstmgen runs`/`info` take a shared lock
    for an instant to test it (is_locked), which must not turn a trainer away. BlockingIOError if still held."""
    if fcntl is None:
        return
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == tries - 1:
                raise
            time.sleep(0.05)


class RunLock:
    """An exclusive, non-blocking lock on one lock file; acquire() raises RunError naming the holder."""

    def __init__(self, path: str | os.PathLike, what: str):
        self.path, self.what = Path(path), what
        self.fd: int | None = None

    def acquire(self) -> None:
        if self.fd is not None:
            return
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise RunError(
                    f"cannot write to run directory '{self.path.parent}' (creating its {self.path.name}: "
                    f"{e.strerror}); make it writable, then run this again"
                ) from None
            try:
                _flock_exclusive(fd)
            except BlockingIOError:
                os.close(fd)
                raise RunError(
                    f"{self.what} is being trained by {describe(holder(self.path))}; wait for it to "
                    "finish or stop it, then run this again"
                ) from None
            except OSError:  # a filesystem without flock: proceed unlocked, as before
                pass
            try:  # a holder that just finished unlinked the file we opened: lock the new one instead
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except OSError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": stamp}).encode()
        with contextlib.suppress(OSError):  # the same file (not a replaced one): the lock is on its inode
            os.ftruncate(fd, 0)
            os.pwrite(fd, data + b"\n", 0)

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still locked, so no one else can be holding this file
        os.close(self.fd)
        self.fd = None


def is_locked(path: str | os.PathLike) -> bool | None:
    """True if a live process holds the lock, False if not, None if this cannot be tested (no flock here)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        if fcntl is None:
            return None
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops the shared lock just taken
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: alive, another user's
        return True
    return True


def is_training(lock_path: Path, log_path: Path) -> bool:
    """On this host: someone holds the flock on `lock_path`. A lock file written on another host (where the flock
    cannot be tested from here) counts while the run's train.log is fresh."""
    lock = holder(lock_path) if Path(lock_path).exists() else None
    if lock is not None and lock.get("host") in (None, socket.gethostname()):
        locked = is_locked(lock_path)
        if locked is not None:
            return locked
        return isinstance(lock.get("pid"), int) and _pid_alive(lock["pid"])
    try:
        age = time.time() - Path(log_path).stat().st_mtime
    except OSError:
        return False
    return lock is not None and age < RECENT_LOG_SECONDS
