"""Seconds per step from a parsed run: completed epochs first, then wall clock, then the bar's own figures.

All rates are "effective" seconds per training step: whole-epoch wall time / steps, so validation, callbacks
and checkpointing are included. Mid-epoch figures (which leave those out) are scaled by the ratio measured on
completed epochs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from statistics import median

from lstmgen.eta.epochs import Run
from lstmgen.eta.level import DAMPING, robust_level
from lstmgen.eta.steptimes import bar_rate, epoch_rates, keras_figure, wall_rate

WINDOW = 12  # at most this many recent epochs are looked at


@dataclass
class Rate:
    step_s: float | None  # effective seconds per step for the next epochs
    source: str
    rel_low: float = 0.1  # relative uncertainty of the remaining time, below and above
    rel_high: float = 0.1
    slope: float = 0.0  # change of step_s per epoch (drift), damped
    overhead: float = 1.0  # whole epoch / training bar (validation, callbacks); ≥ 1
    wall_step_s: float | None = None  # measured with the wall clock (--started or log timestamps)
    keras_step_s: float | None = None  # the training bar's own latest per-step figure
    epochs_used: int = 0
    notes: list[str] = field(default_factory=list)
    spread: float = 0.0  # relative standard deviation of the epochs used (for the range)
    resolution: float = 0.0  # the log's rounding, relative to one epoch
    from_epochs: bool = False  # the range comes from etainterval (completed epochs), not from rel_low/rel_high
    pattern: tuple | None = None  # (period, phase, slow s/step, fast s/step): every period-th epoch is slow


def choose_rate(run: Run, steps: int | None, started_ts: float | None, anchor_ts: float) -> Rate:
    """The best available seconds-per-step for what is left of this run, with its uncertainty and notes.

    Order: completed epochs (robust, recent-weighted; each start's first epoch left out), then the current
    epoch's bar when it is not a first epoch (a first epoch may be slow for good: caches filling), then a first
    epoch less its compilation step, then the wall clock (--started, log timestamps), then the bar's own figures.
    """
    cur = run.last_epoch
    normal, first, ratios = epoch_rates(run, steps or 0)
    overhead = min(max(median(ratios), 1.0), 3.0) if ratios else 1.0
    partial = bar_rate(cur) if cur is not None and not cur.complete and cur.snaps else None
    keras = keras_figure(run)
    wall = wall_rate(run, steps, started_ts, anchor_ts)
    wall_s = wall[0] if wall and started_ts is not None else None
    notes: list[str] = []
    # this epoch's bar rate when good enough to use; when also far enough into the epoch, it joins the pool
    usable = (
        partial if partial is not None and partial[1] >= 0.4 and cur.step >= max(3, (cur.steps or 0) // 100) else None
    )
    substantial = usable if usable and cur.steps and (cur.step >= 0.2 * cur.steps or cur.step >= 50) else None
    warned = {e.number for e in run.epochs if e.out_of_data}
    others = {num: [x for m, x in normal if m != num] or [f[1] for f in first] for num in warned}
    bogus = [
        num
        for num, r in normal
        if (len(normal) >= 3 and r < 0.1 * median(x for _, x in normal))
        or (others.get(num) and r < 0.5 * median(others[num]))
    ]
    if bogus:
        normal = [(num, r) for num, r in normal if num not in bogus]
        notes_bogus = (
            f"epoch {', '.join(map(str, bogus))} took a fraction of the others' time (input ran out "
            "of data?): left out of the speed"
        )
    else:
        notes_bogus = None
    if normal:
        if notes_bogus:
            notes.append(notes_bogus)
        pool = normal[-WINDOW:] + ([(cur.number or 0, substantial[0] * overhead)] if substantial else [])
        level, spread, slope, kept = robust_level([r for _, r in pool], fit=len(normal[-WINDOW:]))
        dropped = [
            f"{num}{' (so far)' if i == len(normal[-WINDOW:]) else ''}"
            for i, ((num, _), k) in enumerate(zip(pool, kept, strict=True))
            if not k
        ]
        if dropped:
            notes.append(f"epoch {', '.join(dropped)} left out as outlier{'s' if len(dropped) > 1 else ''}")
        if first and first[0][0] == 1 and first[0][2] > level * 1.1:
            notes.append("epoch 1 left out of the speed (it includes compilation)")
        if slope:
            notes.append(
                f"epochs are getting {'slower' if slope > 0 else 'faster'} "
                f"({abs(slope / DAMPING) / level:.1%} per epoch); the trend is extrapolated, damped"
            )
        n = sum(k for (num, _), k in zip(pool, kept, strict=True) if num != cur.number or cur.complete)
        src = f"{n} completed epoch{'s' if n > 1 else ''}" + (" and this one" if substantial else "")
        rate = Rate(
            level,
            src,
            0.1,
            0.1,
            slope,
            overhead,
            wall_s,
            keras,
            n,
            notes,
            spread=spread,
            resolution=_resolution(run, level * (steps or 1)),
            from_epochs=True,
        )
        rate.pattern = _pattern(normal[-WINDOW:], kept[: len(normal[-WINDOW:])], level)
        if rate.pattern:
            notes.append(
                f"every {rate.pattern[0]}th epoch is slower ({rate.pattern[2] / rate.pattern[3]:.2f}×: "
                "validation or saving on some epochs only); the forecast follows that pattern"
            )
        elif all(kept) and len(kept) >= 5 and max(r for _, r in pool) > 1.3 * min(r for _, r in pool):
            notes.append("epoch times form two groups (validation or saving on some epochs only): their mix is used")
        return rate
    if usable and first and not cur.restart:
        per, quality, src = usable
        u = 0.1 if quality >= 1.0 else 0.15
        scaled = " × whole-epoch/bar ratio of epoch 1" if overhead > 1.001 else ""
        return Rate(per * overhead, f"{src} in this epoch{scaled}", u, u, 0.0, overhead, wall_s, keras, 1, notes)
    if first:
        level = first[-1][1]
        src = "the first epoch, less its compilation step" if first[-1][1] < first[-1][2] else "the first epoch"
        return Rate(level, src, 0.1, 0.15, 0.0, overhead, wall_s, keras, 1, notes)
    if wall is not None:
        rate = Rate(wall[0], wall[1], 0.1, 0.1, 0.0, overhead, wall_s, keras, notes=notes)
        if keras and keras < wall[0]:  # start-up time is in the wall figure: the rest may go faster
            rate.rel_low = max(rate.rel_low, 1 - keras / wall[0])
        return rate
    if partial is not None:
        per, quality, src = partial
        if quality < 0.1:
            notes.append("only step 1 is in the log: its time includes compilation and can be 50–700× too long")
            return Rate(per, src, 0.99, 0.2, 0.0, overhead, None, keras, notes=notes)
        if src.startswith("Keras"):
            notes.append(
                "from one bar's own figures only (no completed epoch, no --started): less certain; "
                "validation is not included — pass --started for a wall-clock rate"
            )
        u = 0.1 if quality >= 1.0 else 0.2 if quality >= 0.6 else 0.3
        return Rate(per, src, u, u + 0.1, 0.0, overhead, None, keras, notes=notes)
    return Rate(None, "no usable timing in the log", 1.0, 1.0, 0.0, overhead, None, keras, notes=notes)


def _resolution(run: Run, epoch_s: float) -> float:
    """The log's rounding of an epoch's time, relative to the epoch (the full width of one rounding step).

    Whole-second epoch totals (Keras 1/2 verbose=2 '67s - loss'): one second. Epoch times read as steps ×
    Keras' per-step figure ('0s 1ms/step', '1s 7ms/step'): that figure's last digit, relative to it — '1ms' is
    anything from 0.5 to 1.5 ms, so such a log cannot pin the epoch down better than ±50 %."""
    d = [e.end.duration_s for e in run.epochs if e.end is not None and e.end.duration_s is not None]
    if d and epoch_s > 0 and all(x == int(x) for x in d):
        return 1.0 / epoch_s
    rel = []
    for e in run.epochs:
        f = e.final
        if not e.complete or e.end is not None or f is None or f.epoch_s is not None or f.kind == "tqdm":
            continue
        dur = e.duration()
        if (
            f.per_step_s
            and f.step_res_s
            and f.elapsed_s is not None
            and dur is not None
            and abs(dur - sum(e.eval_parts) - f.step * f.per_step_s) < 1e-9
        ):
            rel.append(2 * f.step_res_s / f.per_step_s)
    return median(rel[-WINDOW:]) if rel else 0.0


def _pattern(normal: list[tuple], kept: list[bool], level: float) -> tuple | None:
    """(period, phase, slow, fast) when the slow epochs come at a fixed period (validation_freq=k, saving every
    k epochs); None otherwise."""
    if len(normal) < 5 or not all(kept):
        return None
    rates = sorted(r for _, r in normal)
    gaps = [(rates[i + 1] - rates[i], i) for i in range(len(rates) - 1)]
    gap, i = max(gaps)
    if gap < 0.15 * rates[i]:
        return None
    cut = rates[i]
    slow = [num for num, r in normal if r > cut]
    steps = {b - a for a, b in pairwise(slow)}
    if len(slow) < 2 or len(steps) != 1 or min(steps) < 2:
        return None
    period = steps.pop()
    last = normal[-1][0]
    if last - slow[-1] >= period:  # the pattern has broken off
        return None
    fast = median(r for _, r in normal if r <= cut)
    return period, slow[-1] % period, median(r for _, r in normal if r > cut), fast
