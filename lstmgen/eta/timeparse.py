"""Clock times for `--started` / `--now`, and the way estimates print times and durations.

Times are naive local datetimes (what the user's wall clock shows); aware inputs are converted to local time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from lstmgen.errors import LogError

_CLOCK = re.compile(r"^(\d{1,2}):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?\s*([ap]\.?m\.?)?$", re.I)
_UNIX = re.compile(r"^\d{9,11}(?:\.\d+)?$")
_HELP = "use HH:MM[:SS], YYYY-MM-DD HH:MM[:SS], ISO 8601 (2024-07-30T21:59:00Z, +02:00) or unix seconds"


def parse_time(text: str, ref_date: datetime | None = None) -> datetime:
    """Read a time given on the command line; a bare clock time later than `ref_date` means the day before."""
    ref = ref_date or datetime.now()
    raw = (text or "").strip()
    if not raw:
        raise LogError(f"empty time; {_HELP}")
    if _UNIX.match(raw):
        try:
            return datetime.fromtimestamp(float(raw))
        except (OverflowError, OSError, ValueError):
            raise LogError(f"cannot read time {text!r}: unix seconds out of range") from None
    m = _CLOCK.match(raw)
    if m:
        hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
        if m[5]:
            if not 1 <= hour <= 12:
                raise LogError(f"cannot read time {text!r}: hour {hour} with am/pm; {_HELP}")
            hour = hour % 12 + (12 if m[5].lower().startswith("p") else 0)
        try:
            t = ref.replace(hour=hour, minute=minute, second=second, microsecond=int((m[4] or "0").ljust(6, "0")))
        except ValueError:
            raise LogError(f"cannot read time {text!r}: not a valid clock time; {_HELP}") from None
        return t - timedelta(days=1) if t > ref else t
    iso = raw.replace("/", "-")
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        raise LogError(f"cannot read time {text!r}; {_HELP}") from None
    if t.tzinfo is not None:
        t = t.astimezone().replace(tzinfo=None)
    return t


def to_datetime(ts: float) -> datetime:
    """POSIX seconds → naive local datetime (clamped to what datetime can show)."""
    try:
        return datetime.fromtimestamp(ts)
    except (OverflowError, OSError, ValueError):
        return datetime.max if ts > 0 else datetime.min


def fmt_when(t: datetime, ref: datetime | None = None) -> str:
    """'15:22:38' on the reference day, 'Mon 08:52:43' within a week, else '2024-08-30 08:52'."""
    t = _rounded(t)
    if ref is not None and t.date() == ref.date():
        return t.strftime("%H:%M:%S")
    if ref is not None and abs((t - ref).days) < 6:
        return t.strftime("%a %H:%M:%S")
    return t.strftime("%Y-%m-%d %H:%M")


def fmt_full(t: datetime) -> str:
    return _rounded(t).strftime("%a %Y-%m-%d %H:%M:%S")


def _rounded(t: datetime) -> datetime:
    """To the nearest second (so printed times agree with printed h:mm:ss durations)."""
    try:
        return (t + timedelta(microseconds=500_000)).replace(microsecond=0)
    except OverflowError:
        return t.replace(microsecond=0)


def fmt_hms(seconds: float | None) -> str:
    """Seconds → 'h:mm:ss' with uncapped hours ('93:53:43'); '?' for unknown."""
    if seconds is None or seconds != seconds:
        return "?"
    sign = "-" if seconds < 0 else ""
    s = round(abs(seconds))
    return f"{sign}{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def fmt_span(seconds: float) -> str:
    """Human-sized duration: '42 s', '3.5 min', '4.71 h', '94.2 h (3.93 days)'."""
    if seconds < 90:
        return f"{_num(seconds)} s"
    if seconds < 5400:
        return f"{_num(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{_num(seconds / 3600)} h"
    return f"{_num(seconds / 3600)} h ({_num(seconds / 86400)} days)"


def _num(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 1000 else f"{x:,.0f}"
