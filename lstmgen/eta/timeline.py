"""Where a run stands in time and how its next epochs lay out: time into the current epoch, time elapsed, and
the durations of the epochs still to come (drifting or following a slow-every-k-th pattern)."""

from __future__ import annotations

from lstmgen.eta.epochs import Run
from lstmgen.eta.record import Estimate


def pattern_of(rate, unit: int, last: int):
    """A regime pattern as a function: epoch number → seconds, or None."""
    if rate.pattern is None:
        return None
    period, phase, slow, fast = rate.pattern
    return lambda num: (slow if num % period == phase else fast) * unit


def future_durations(count: int, d0: float, slope: float, pattern=None, cap: int = 1000, last: int = 0):
    """(epoch offset, duration) of the next `count` epochs, drifting by `slope` per epoch (clamped ×0.5–×2), or
    following a slow-every-k-th-epoch `pattern`; past `cap` epochs the rest comes as one lump."""
    for j in range(1, min(count, cap) + 1):
        yield j, pattern(last + j) if pattern else min(max(d0 + slope * j, 0.5 * d0), 2 * d0)
    if count > cap:
        yield count, min(max(d0 + slope * cap, 0.5 * d0), 2 * d0) * (count - cap)


def time_into_epoch(run: Run, est: Estimate, d_epoch: float) -> tuple[float, float]:
    """How far an epoch with no progress lines (verbose=2, Keras 1) has got by the anchor time, and by how
    much that is uncertain. Without --started the log's state is taken as of its last line: the epoch has
    just begun (exact for a file being written, and for --now set to when the log was copied)."""
    if est.started is not None and est.as_of_source in ("--now", "the current time"):
        done = sum(e.duration() or d_epoch for e in run.epochs[:-1])
        return min(max((est.as_of - est.started).total_seconds() - done, 0.0), 0.9 * d_epoch), 0.0
    if est.as_of_source in ("--now", "the current time"):
        est.notes.append(
            f"no progress is shown inside epoch {run.last_epoch.number} (one line per epoch): it is "
            "taken as just begun; it may end up to one epoch sooner (pass --started to know)"
        )
        return 0.0, d_epoch
    return 0.0, 0.0


def elapsed(run: Run, est: Estimate, step_s: float, unit: int, overhead: float) -> float | None:
    """Seconds since the run began: wall clock when known, else the log's own epoch times."""
    if est.started is not None:
        return (est.as_of - est.started).total_seconds()
    total = 0.0
    for ep in run.epochs[:-1] if not run.last_epoch.complete else run.epochs:
        d = ep.duration() if ep.complete else ep.approx_duration()
        total += d if d is not None else step_s * (ep.steps or unit)
    cur = run.last_epoch
    if not cur.complete and cur.snaps:
        last, first = cur.snaps[-1], cur.snaps[0]
        if last.elapsed_s is not None and not last.final:
            total += last.elapsed_s
        elif first.step == 1 and first.kind.startswith("keras") and last.step > 1:
            # Keras: step 1's own time (compilation) shows in the first snapshot, the rest at the bar's rate
            t1 = (
                first.eta_s / (first.total - 1)
                if first.eta_s and first.total and first.total > 1
                else (first.per_step_s or step_s / overhead)
            )
            total += t1 + (cur.step - 1) * step_s / overhead
        else:
            total += cur.step * step_s / overhead
    elif not cur.complete and est.epoch_remaining_s is not None:
        total += max(unit * step_s - est.epoch_remaining_s, 0.0)
    return total
