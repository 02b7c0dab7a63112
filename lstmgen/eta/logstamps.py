"""Timestamps in log lines → POSIX seconds, as `Timestamp` events: ISO 8601 (local, or exact with a UTC
offset), absl's 'I0725 10:40:00.123' and absl's 'I0000 00:00:1722…' unix seconds."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from lstmgen.eta.logevents import Timestamp

STAMP = re.compile(
    r"[IWEF]0000 00:00:(\d{9,10}(?:\.\d+)?)"
    r"|(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,6}))?\d*(Z|[+-]\d\d:?\d\d)?"
    r"|(?<![\w])[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{1,6})"
)


def stamp(text: str, n: int, year: int, cache: dict) -> Timestamp | None:
    """The first timestamp in `text` (line `n`; `year` for absl stamps, which print none), or None."""
    m = STAMP.search(text)
    if m is None:
        return None
    if m[1] is not None:
        return Timestamp(n, float(m[1]), "unix")
    if m[2] is not None:
        ts = iso_stamp(f"{m[2]}-{m[3]}-{m[4]} {m[5]}:{m[6]}:{m[7]}.{m[8] or 0}", cache)
        if ts is not None and m[9]:  # explicit UTC offset: an exact instant
            ts = _utc_stamp(m, ts)
        return None if ts is None else Timestamp(n, ts, "iso")
    base = iso_stamp(f"{year}-{m[10]}-{m[11]} {m[12]}:{m[13]}:{m[14]}", cache)
    return None if base is None else Timestamp(n, base + float("0." + m[15]), "absl")


def iso_stamp(text: str, cache: dict) -> float | None:
    """'YYYY-MM-DD HH:MM:SS[.ffffff]' (local time) → POSIX seconds; None when invalid."""
    text = text.replace(",", ".").replace("T", " ")
    head, sec, frac = text[:16], text[17:19], text[20:]
    if head not in cache:  # one strptime per minute of log
        try:
            cache[head] = datetime.strptime(head, "%Y-%m-%d %H:%M").timestamp()
        except (ValueError, OverflowError, OSError):
            cache[head] = None
    base = cache[head]
    if base is None or not sec.isdigit() or int(sec) > 60:
        return None
    return base + int(sec) + (float("0." + frac) if frac.isdigit() else 0.0)


def _utc_stamp(m: re.Match, local_ts: float) -> float | None:
    tz = m[9].replace(":", "")
    offset = 0 if tz == "Z" else (1 if tz[0] == "+" else -1) * (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60)
    try:
        naive = datetime(int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]), int(m[7]))
        return naive.replace(tzinfo=timezone.utc).timestamp() - offset + (local_ts % 1)
    except (ValueError, OverflowError):
        return None
