"""The speed of a run from its epochs' rates: a robust, recent-weighted level, its spread, and a damped trend.

>>> level, spread, slope, kept = robust_level([2.0, 2.1, 2.0, 9.0, 2.05])
>>> round(level, 2), kept
(2.04, [True, True, True, False, True])
"""

from __future__ import annotations

from statistics import median

HALF_LIFE = 4.0  # epochs: recent epochs weigh more when the speed drifts
DAMPING = 0.75  # share of a measured speed trend that is extrapolated


def robust_level(values: list[float], fit: int | None = None) -> tuple[float, float, float, list[bool]]:
    """Oldest-first rates → (recent-weighted level, relative spread, damped slope per epoch, kept flags).

    Outliers (3 robust sigmas; of two that disagree, the slower) are dropped. A speed trend is fitted on the
    first `fit` values (completed epochs) and used only when clearly above the noise.
    """
    med = median(values)
    mad = median(abs(v - med) for v in values)
    scale = max(1.4826 * mad, 0.03 * med)  # the floor covers whole-second rounding of epoch times
    kept = [abs(v - med) <= 3 * scale for v in values]
    if len(values) == 2 and max(values) > 1.25 * min(values):  # two that disagree: slow outliers are the rule
        kept = [v == min(values) for v in values]
    slow = [v > med for v, k in zip(values, kept, strict=True) if not k]
    if len(values) >= 5 and sum(slow) >= 2 and sum(slow) >= 0.15 * len(values):
        kept = [True] * len(values)  # not outliers but a second regime (validation or saving on some epochs)
    pts = [(i, v) for i, (v, k) in enumerate(zip(values, kept, strict=True)) if k]
    n = len(values)
    weights = [0.5 ** ((n - 1 - i) / HALF_LIFE) for i, _ in pts]
    level = sum(w * v for w, (_, v) in zip(weights, pts, strict=True)) / sum(weights)
    spread = 1.4826 * median(abs(v - med) for _, v in pts) / med if med > 0 else 0.0
    if all(kept) and len(pts) >= 5 and max(values) > med + 3 * scale:  # two regimes: their mix is the level
        mean = sum(values) / n
        return mean, (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 / mean, 0.0, kept
    slope = 0.0
    pts = [(i, v) for i, v in pts if fit is None or i < fit]
    if len(pts) >= 4:
        mx = sum(i for i, _ in pts) / len(pts)
        my = sum(v for _, v in pts) / len(pts)
        sxx = sum((i - mx) ** 2 for i, _ in pts)
        b = sum((i - mx) * (v - my) for i, v in pts) / sxx
        resid = [v - (my + b * (i - mx)) for i, v in pts]
        sd = max((sum(r * r for r in resid) / max(len(pts) - 2, 1)) ** 0.5, 0.005 * my)
        if abs(b) * sxx**0.5 / sd > 4 and abs(b) * (pts[-1][0] - pts[0][0]) > 0.04 * my:  # a real trend
            level = my + b * (n - 1 - mx)  # the trend's value at the latest epoch
            slope = DAMPING * b  # trends do not always continue unchanged
    return level, spread, slope, kept
