"""How wide an ETA's low–high range is: an `INTERVAL` (80 %) prediction interval for the rest of a run.

The remaining time is a sum of future epochs. With per-epoch relative spread s (measured on the n epochs seen,
or the log's rounding where that is coarser: whole-second epoch totals, or a one- or two-digit per-step figure
such as '1ms/step'), the relative error of that sum over k epochs has two parts: the level's own error, s/√n,
which every future epoch shares, and the epochs' scatter, s/√k, which averages out. A Student-t quantile
(n − 1 degrees of freedom) widens the range when few epochs are known; `FLOOR` is
what a clean history still does not show (a slower neighbour, thermal throttling, a checkpoint that grew), and
`DRIFT` × k/n the level's wander over a horizon long against the history it is read from (real epoch times
drift: one from 20 % of a run is a 4× extrapolation). FLOOR, DRIFT and PRIOR_SPREAD were chosen on the
development half of tests/fixtures/logs/real when it held 17 files (see bench/bench_eta_real.py and BENCHMARKS.md);
the held-out half is only scored.

    >>> round(relative_halfwidth(0.02, 10, 40), 3)
    0.018
"""

from __future__ import annotations

from math import sqrt

INTERVAL = 0.8  # the stated coverage of [run_end_low, run_end_high]
Z = 1.2816  # two-sided 80 %: the 90th percentile of a normal
FLOOR = 0.004  # relative error no history shows (added to the t-scaled spread term)
DRIFT = 0.001  # the level's relative wander per (epochs left / epochs seen)
PRIOR_SPREAD = 0.15  # per-epoch spread assumed while fewer than two epochs are known
_T90 = {
    1: 3.078,
    2: 1.886,
    3: 1.638,
    4: 1.533,
    5: 1.476,
    6: 1.440,
    7: 1.415,
    8: 1.397,
    9: 1.383,
    10: 1.372,
    12: 1.356,
    15: 1.341,
    20: 1.325,
    30: 1.310,
}


def t90(df: int) -> float:
    """The 90th percentile of Student's t with `df` degrees of freedom (normal past 30)."""
    if df >= 30:
        return Z
    return _T90.get(df) or _T90[max(d for d in _T90 if d <= max(df, 1))]


def relative_halfwidth(spread: float, n: int, k: float, resolution: float = 0.0) -> float:
    """Half-width of the INTERVAL range, relative to the predicted rest of the run.

    `spread`: relative standard deviation of the epochs seen; `n`: how many; `k`: epochs still to come (a
    fraction for the rest of the current one); `resolution`: the log's rounding relative to one epoch.
    """
    k = max(k, 1e-9)
    rounding = resolution / sqrt(12)
    if n < 2:
        s = max(spread, PRIOR_SPREAD, rounding)
        return min(Z * sqrt(s * s * (1 + 1 / k) + FLOOR * FLOOR), 0.95)
    s = max(spread, rounding)
    return min(t90(n - 1) * sqrt(s * s * (1 / n + 1 / k)) + FLOOR + DRIFT * k / n, 0.95)
