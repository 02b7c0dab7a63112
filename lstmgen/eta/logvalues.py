"""Numbers as logs print them → floats and ints: durations ('1:02:03', '45s'), per-step rates ('162ms/step',
tqdm's '5.37it/s'), tqdm counts ('1.2k') and bounded integers."""

from __future__ import annotations

UNIT_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6}
_SI = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def seconds(text: str) -> float:
    """'1:02:03', '1:02', '45s' or '45' → seconds."""
    text = text.rstrip("s")
    if ":" not in text:
        return float(text)
    parts = [int(p) for p in text.split(":")]
    return float(parts[0] * 3600 + parts[1] * 60 + parts[2] if len(parts) == 3 else parts[0] * 60 + parts[1])


def step_rate(value: str | None, unit: str | None) -> tuple[float | None, float]:
    """Keras '162', 'ms' → (0.162 s, display resolution)."""
    if value is None:
        return None, 0.0
    scale = UNIT_S.get(unit, 1.0) if unit is not None else 1.0
    return float(value) * scale, 0.5 * scale * (0.1 if "." in value else 1.0)


def tqdm_rate(value: str | None, num: str | None, den: str | None) -> float | None:
    """tqdm '5.37', 'it', 's' → 0.186 s per item; '1.23', 's', 'it' → 1.23."""
    if not value or value == "?":
        return None
    v = float(value)
    if num == "s" and den != "s":
        return v
    return 1.0 / v if v > 0 and den == "s" else None


def count(text: str) -> int:
    if text[-1] in _SI:
        return int(float(text[:-1]) * _SI[text[-1]])
    return int(float(text)) if "." in text else int(text)


def opt_int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 16 else None
