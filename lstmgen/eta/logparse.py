"""Raw training-log bytes → normalised events. Pure functions, stdlib only.

Reads Keras 3 (verbose 1 and 2), Keras 1/2 and tf.keras, tqdm bars and lstmgen's own train.log. Every physical
line is split on `\\r` into the snapshots a terminal would overwrite; each snapshot is parsed on its own (no state
crosses a line), so parsing can resume at any line or `\\r` boundary (`--follow`). Long bars are thinned to a
bounded sample. Which bar is a training epoch and which is evaluate()/predict() is decided in `lstmgen.eta.logruns`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from lstmgen.eta import logformats as fmt
from lstmgen.eta.logevents import EpochEnd, EpochHeader, Event, Progress, RunEnd, RunStart, Timestamp
from lstmgen.eta.logstamps import stamp

__all__ = [
    "EpochEnd",
    "EpochHeader",
    "Event",
    "Progress",
    "RunEnd",
    "RunStart",
    "Timestamp",
    "decode_log",
    "looks_binary",
    "normalise",
    "notebook_text",
    "parse_log",
    "thin",
]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b")
_ANSI_BARE = re.compile(r"\[[0-9;]{0,12}m")  # colour codes whose ESC byte was lost in a paste
_COMMON = ("\x1b[0m", "\x1b[1m", "\x1b[32m", "\x1b[37m", "[0m", "[1m", "[32m", "[37m")  # Keras 3's own
_KEEP_PER_BAR = 24  # snapshots kept per uninterrupted bar
_STRIDE = 8  # of the snapshots that continue a bar, every 8th is parsed (and the last)


def decode_log(data: bytes) -> str:
    """Bytes → text: UTF-8 (BOM or not), UTF-16 (PowerShell redirection); undecodable bytes become U+FFFD."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) >= 8 and data[1:64:2].count(0) > 24):
        try:
            return data.decode("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-le", "replace")
        except Exception:  # odd lengths and bad surrogates: fall back to UTF-8
            pass
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    return data.decode("utf-8", "replace")


def looks_binary(data: bytes) -> bool:
    """True for data that is clearly not a text log (NUL bytes or mostly undecodable)."""
    head = data[:65536]
    if not head:
        return False
    text = decode_log(head)
    if text.count("\x00") > len(text) // 100:
        return True
    bad = text.count("\ufffd") + sum(text.count(c) for c in "\x01\x02\x03\x04\x05\x06\x0e\x0f\x10\x11\x12")
    return bad > len(text) // 5


def notebook_text(text: str) -> str:
    """A Jupyter notebook (.ipynb JSON) → the text its cells printed; any other text unchanged."""
    if not text.lstrip().startswith("{") or '"cells"' not in text:
        return text
    try:
        cells = json.loads(text)["cells"]
        parts = []
        for cell in cells:
            for out in cell.get("outputs", ()):
                chunk = out.get("text") or out.get("data", {}).get("text/plain", "")
                parts.append(chunk if isinstance(chunk, str) else "".join(chunk))
                if parts[-1] and not parts[-1].endswith("\n"):
                    parts.append("\n")
        return "".join(parts)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return text


def normalise(text: str) -> str:
    """Remove backspaces and ANSI codes (with or without the ESC byte; also `cat -v`'s `^[`)."""
    if "^[[" in text:
        text = text.replace("^[", "\x1b").replace("^M", "\r").replace("^H", "\b")
    if "\b" in text:
        text = text.replace("\b", "")
    bare = "[0m" in text or "[m" in text
    for code in _COMMON:  # plain replaces are far faster than a regex over megabytes
        if code in text:
            text = text.replace(code, "")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if bare:
        text = _ANSI_BARE.sub("", text)
    return text


def parse_log(data: bytes | str, line_base: int = 0, year: int | None = None) -> list[Event]:
    """Parse a whole log (bytes or text) into events, in order. Never raises on odd input.

    Speed: a snapshot that plainly continues the bar just parsed (same size, description and epoch, not its
    end) is parsed only every `_STRIDE`-th time, and always when it is the last of its run.
    """
    text = normalise(notebook_text(decode_log(data) if isinstance(data, (bytes, bytearray)) else data))
    ctx = _Context(year or datetime.now().year)
    out: list = []
    parse = ctx.segment
    marks = None  # (must contain, must contain, must not contain) for a snapshot of the current bar
    pending = None  # the last snapshot skipped
    skipped = 0
    for n, line in enumerate(text.split("\n"), line_base):
        for seg in line.split("\r") if "\r" in line else (line,):
            if not seg:
                continue
            if marks is not None and marks[0] in seg and marks[1] in seg and marks[2] not in seg:
                skipped += 1
                if skipped % _STRIDE:
                    pending = (seg, n)
                    continue
            elif pending is not None:
                parse(pending[0], pending[1], out)
            pending = None
            size = len(out)
            parse(seg, n, out)
            if len(out) > size:
                marks = _marks(out[-1])
    if pending is not None:
        parse(pending[0], pending[1], out)
    return thin(out)


def _marks(item) -> tuple[str, str, str] | None:
    """Substrings that pick out further snapshots of the same bar as `item` (a pending snapshot tuple)."""
    if item.__class__ is not tuple or item[4]:
        return None
    kind, total = item[3], item[2]
    if kind == "lstmgen":
        return f" epoch {item[6]}/", f"/{total} loss", " end "
    if total is None:
        return None if kind == "tqdm" else ("/Unknown", "", "\x00")
    if kind == "tqdm":
        return f"/{total} [", item[5], f"{total}/{total}"
    return f"/{total} ", "", f"{total}/{total}"


class _Context:
    """Caches shared by the segments of one parse (timestamps per minute, tqdm descriptions)."""

    def __init__(self, year: int):
        self.year = year
        self.stamps: dict = {}
        self.descs: dict = {}

    def segment(self, seg: str, n: int, out: list) -> None:
        tail = seg
        if "ran out of data" in seg:  # often glued to the end of a bar: 'f1: 0.6491WARNING:tensorflow:Your input…'
            out.append(RunEnd(n, None, "out_of_data"))
        if "%|" in seg or "it/s" in seg or "s/it" in seg:
            if fmt.tqdm(seg, n, out, self.descs):
                return
        if "/s" in seg or "ETA" in seg or "/Unknown" in seg or "s - " in seg:
            start, end = fmt.keras(seg, n, out)
            if end:
                if start and "poch" in seg[:start]:
                    fmt.header(seg[:start], n, out)
                tail = seg[end:]
        if tail is seg:
            if ":" in seg and ("start" in seg or "poch" in seg or "finished" in seg or "interrupted" in seg):
                m = fmt.LG.match(seg)
                if m is not None and fmt.lstmgen(m, n, out, self.stamps):
                    return
            if "poch" in seg and fmt.header(seg, n, out):
                return
            if "arly stopping" in seg:
                out.append(RunEnd(n, None, "early_stopping"))
                return
        if len(tail) > 18 and ":" in tail:
            ts = stamp(tail, n, self.year, self.stamps)
            if ts is not None:
                out.append(ts)


def _key(x) -> tuple:
    """(kind, total, desc, epoch, step, final) of a Progress or of a pending snapshot tuple."""
    if isinstance(x, Progress):
        return x.kind, x.total, x.desc, x.epoch, x.step, x.final
    return x[3], x[2], x[5], x[6], x[1], x[4]


def thin(items: list) -> list[Event]:
    """Keep a bounded sample of each uninterrupted bar (first, last, evenly spaced) and of stamp runs;
    pending snapshot tuples are turned into `Progress` here, only for those kept."""
    out: list[Event] = []
    bar: list = []
    stamps: list[Timestamp] = []
    prev: tuple = ()  # the last bar snapshot's key (set before it is read: `bar` is empty until then)

    def flush_bar():
        if len(bar) > _KEEP_PER_BAR:
            k = _KEEP_PER_BAR - 6
            idx = {0, 1, 2, len(bar) - 3, len(bar) - 2, len(bar) - 1}
            idx.update(3 + (len(bar) - 6) * i // k for i in range(k))
            kept = [bar[i] for i in sorted(idx)]
        else:
            kept = bar
        out.extend(x if isinstance(x, Progress) else x[7](x[8], x[0]) for x in kept)
        bar.clear()

    def flush_stamps():
        out.extend(stamps[:1] + stamps[-1:] if len(stamps) > 1 else stamps)
        stamps.clear()

    for ev in items:
        if ev.__class__ is tuple or isinstance(ev, Progress):
            key = (ev[3], ev[2], ev[5], ev[6], ev[1], ev[4]) if ev.__class__ is tuple else _key(ev)
            if stamps:
                flush_stamps()
            if bar and not (prev[:4] == key[:4] and prev[4] <= key[4] and not prev[5]):
                flush_bar()
            bar.append(ev)
            prev = key
            continue
        if bar:
            flush_bar()
        if isinstance(ev, Timestamp):
            stamps.append(ev)
            continue
        if stamps:
            flush_stamps()
        out.append(ev)
    flush_bar()
    flush_stamps()
    return out
