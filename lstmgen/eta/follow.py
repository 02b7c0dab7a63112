"""Reading a training log for `estimate --log` (file or stdin), and `--follow`: re-estimate as the log grows."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

from lstmgen.errors import LogError, LstmgenError
from lstmgen.eta.estimate import estimate
from lstmgen.eta.logparse import looks_binary, parse_log, thin
from lstmgen.eta.record import Estimate
from lstmgen.eta.report import format_report
from lstmgen.util.inputs import check_regular, read_stream
from lstmgen.util.limits import LOG_STDIN_BYTES

MAX_READ = 64 * 1024 * 1024  # bigger logs: only the tail is read
_SYNC_SCAN = 1024 * 1024  # how far past the cut to look for the start of the next progress update
_REFOLD = 64  # events re-thinned with each appended chunk
_MAX_LINE = 1 << 20  # bytes kept of an unfinished line
_SPECIAL_FIX = "pass a log file, or '-' to read a pipe from standard input"


def read_log(path: str) -> tuple[bytes, float | None, str]:
    """(bytes, modification time or None for stdin, display name). Problems → LogError."""
    if path == "-":
        return (
            read_stream(
                sys.stdin.buffer,
                LOG_STDIN_BYTES,
                "estimate --log - (standard input)",
                "pass the log file's path instead (a big file is read from its end) or pipe its tail, "
                "e.g. tail -c 32M train.log | lstmgen estimate --log -",
            ),
            None,
            "<stdin>",
        )
    p = Path(path)
    try:
        st = check_regular(p, path, _SPECIAL_FIX)
        if p.is_dir():
            hint = f", e.g. {p / 'train.log'}" if (p / "train.log").is_file() else ""
            raise LogError(f"{path} is a directory; pass the log file inside it{hint}")
        with open(p, "rb") as f:
            if st.st_size > MAX_READ:
                seek_tail(f, st.st_size - MAX_READ)
            data = f.read()
    except FileNotFoundError:
        raise LogError(f"log file not found: {path} (check the path; use '-' to read standard input)") from None
    except PermissionError:
        raise LogError(f"cannot read {path}: permission denied") from None
    except OSError as e:
        raise LogError(f"cannot read {path}: {e.strerror or e}") from None
    return data, st.st_mtime, path


def seek_tail(f, cut: int) -> int:
    """Position `f` at the first update that starts after byte `cut`: after a \\n or a \\r (Keras' verbose=1 and
    tqdm separate the updates of one line by \\r alone, so a long run may have no \\n in its last 64 MB)."""
    f.seek(cut)
    head = f.read(_SYNC_SCAN)
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    start = cut + (min(ends) + 1 if ends else 0)
    f.seek(start)
    return start


def check_text(data: bytes, name: str) -> None:
    if not data.strip():
        raise LogError(f"{name} is empty: nothing has been logged yet (wait, or use --follow)")
    if looks_binary(data):
        raise LogError(f"{name} is not a text log (binary data); pass the file the training output went to")


def estimate_file(
    log: str, started: str | datetime | None, now: str | datetime | None, epochs: int | None, run: int | None = None
) -> Estimate:
    data, mtime, name = read_log(log)
    check_text(data, name)
    year = datetime.fromtimestamp(mtime).year if mtime else None
    return estimate(
        parse_log(data, year=year), started=started, now=now, epochs=epochs, mtime=mtime, log_name=name, run=run
    )


class _Incremental:
    """Parsed events of a growing log: complete segments are parsed once, the unfinished tail every time."""

    def __init__(self) -> None:
        self.events: list = []
        self.line = 0
        self.pending = b""

    def feed(self, data: bytes) -> list:
        data = self.pending + data
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if cut:
            done = data[:cut]
            self.events = self.events[:-_REFOLD] + thin(self.events[-_REFOLD:] + parse_log(done, self.line))
            self.line += done.count(b"\n")
        self.pending = data[cut:][-_MAX_LINE:]  # a longer line is no progress line: keep its end only
        return self.events + parse_log(self.pending, self.line) if self.pending else self.events


def _render(events, log, started, now, epochs, mtime, as_json, run=None) -> tuple[str, Estimate | None]:
    """Report text (or one JSON line) for the current state; a waiting message while there is no progress."""
    try:
        est = estimate(events, started=started, now=now, epochs=epochs, mtime=mtime, log_name=log, run=run)
    except LstmgenError as e:
        if "no training progress" not in str(e) and not (run and str(e).startswith("--run")):
            raise
        return f"waiting for training progress in {log}…", None
    return (json.dumps(est.to_dict(), ensure_ascii=False) if as_json else format_report(est)), est


def follow(
    log: str, started, now, epochs, as_json: bool, out, *, poll_s: float = 2.0, sleep=None, run: int | None = None
) -> int:
    """Poll the log (tolerating truncation and rotation); reprint when the estimate changes; stop when the run
    has finished or on Ctrl-C."""
    sleep = sleep or time.sleep
    if log == "-":
        return _follow_stdin(started, now, epochs, as_json, out, poll_s, run)
    path = Path(log)
    if path.is_dir():
        read_log(log)  # raises the directory error
    inc, ident, offset, shown, waiting = _Incremental(), None, 0, None, False
    try:
        while True:
            try:
                st = check_regular(path, log, _SPECIAL_FIX)
            except FileNotFoundError:
                if not waiting:
                    out.write(f"waiting for {log} to appear…\n")
                    out.flush()
                    waiting = True
                sleep(poll_s)
                continue
            if ident != (st.st_dev, st.st_ino) or st.st_size < offset:  # new, rotated or truncated file
                inc, ident, offset = _Incremental(), (st.st_dev, st.st_ino), 0
            try:
                with open(path, "rb") as f:
                    if offset == 0 and st.st_size > MAX_READ:  # a huge log: start near its end
                        offset = seek_tail(f, st.st_size - MAX_READ)
                    f.seek(offset)
                    new = f.read(MAX_READ)
            except OSError as e:
                raise LogError(f"cannot read {log}: {e.strerror or e}") from None
            if offset == 0 and new.strip() and looks_binary(new):
                check_text(new, log)
            offset += len(new)
            text, est = _render(inc.feed(new), log, started, now, epochs, st.st_mtime, as_json, run)
            if text != shown:
                out.write(text + "\n\n")
                out.flush()
                shown = text
            if est is not None and est.finished:
                return 0
            sleep(poll_s)
    except KeyboardInterrupt:
        return 0


def _follow_stdin(started, now, epochs, as_json: bool, out, poll_s: float, run: int | None = None) -> int:
    """`--log - --follow`: read a pipe as it arrives; estimate every `poll_s` seconds and at its end."""
    stream = sys.stdin.buffer
    read = getattr(stream, "read1", stream.read)
    inc, shown, last = _Incremental(), None, 0.0
    events: list = []
    try:
        while True:
            chunk = read(65536)
            if chunk and not inc.line and not inc.events and chunk.strip() and looks_binary(chunk):
                check_text(chunk, "<stdin>")
            events = inc.feed(chunk) if chunk else events
            if chunk and time.monotonic() - last < poll_s:
                continue
            last = time.monotonic()
            text, est = _render(events, "<stdin>", started, now, epochs, None, as_json, run)
            if text != shown:
                out.write(text + "\n\n")
                out.flush()
                shown = text
            if not chunk and est is None:
                raise LogError("no training progress found in <stdin>")
            if not chunk or (est is not None and est.finished):
                return 0
    except KeyboardInterrupt:
        return 0
