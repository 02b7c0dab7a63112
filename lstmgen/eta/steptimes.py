"""The per-step times a parsed run shows: its training bars' own figures, its completed epochs and the wall clock.

`rate.choose_rate` picks among them; epoch-based figures are "effective" (whole epoch / steps, validation included).
"""

from __future__ import annotations

from lstmgen.eta.epochs import Epoch, Run


def bar_rate(ep: Epoch) -> tuple[float, float, str] | None:
    """Training-bar seconds per step from an epoch's snapshots → (rate, quality 0–1, source words)."""
    snaps = [p for p in ep.snaps if not p.final]
    if not snaps:
        return None
    last = snaps[-1]
    if last.kind in ("tqdm", "lstmgen") and last.elapsed_s is not None and last.step > 0:
        need = 20.0 if last.kind == "tqdm" else 2.0  # tqdm shows whole seconds
        for p in snaps:  # skip the first ~10 % of the bar (worker start-up, first-step compilation)
            if (
                p.elapsed_s is not None
                and max(1, last.step // 10) <= p.step < last.step
                and last.elapsed_s - p.elapsed_s >= need
            ):
                return (last.elapsed_s - p.elapsed_s) / (last.step - p.step), 1.0, "the bar's elapsed time"
        if last.per_step_s:
            return last.per_step_s, 0.7, "tqdm's rate"
        return last.elapsed_s / last.step, 0.6, "the bar's elapsed time"
    if last.step < 2:
        per = last.per_step_s or (last.eta_s / max((last.total or 2) - 1, 1) if last.eta_s else None)
        return (per, 0.05, "Keras' step-1 figure") if per else None
    best = None  # (rate, relative display error): the latest precise figure, else the most precise one
    for p in reversed(snaps):
        opts = []
        if p.per_step_s and p.step >= 2:
            opts.append((p.per_step_s, p.step_res_s / p.per_step_s))
        if p.eta_s is not None and p.total and p.total > p.step >= 2 and p.eta_s >= 1:
            # Keras truncates the ETA to whole seconds: the true value is half a second more on average
            opts.append(((p.eta_s + 0.5) / (p.total - p.step), 0.5 / (p.eta_s + 0.5)))
        for o in opts:
            if best is None or o[1] < best[1]:
                best = o
        if best is not None and best[1] <= 0.02:
            break
    if best is None:
        if last.elapsed_s:  # unknown-size bar: elapsed since the bar began
            return last.elapsed_s / last.step, 0.5, "the bar's elapsed time"
        return None
    return best[0], (0.7 if best[1] < 0.05 else 0.4), "Keras' own per-step figure"


def _overhead(ep: Epoch, d: float, n: int) -> float | None:
    """Whole epoch / training bar for a completed epoch (validation, callbacks), compilation left out."""
    br = bar_rate(ep)
    if br is None or br[1] < 0.4 or not ep.last_mid or ep.last_mid.step < n // 2:
        return None
    train = n * br[0]
    tail = ep.last_mid
    if tail.elapsed_s is not None and tail.step >= 0.9 * n:  # time after the last training line: validation
        return (train + max(d - tail.elapsed_s - (n - tail.step) * br[0], 0.0)) / train
    if ep.restart:
        steady = ep.steady_duration()
        return steady / train if steady else None
    return d / train


def epoch_rates(run: Run, steps: int) -> tuple[list[tuple], list[tuple], list[float]]:
    """Normal epochs as (number, s/step); first-after-start epochs as (number, s/step less compilation where
    known, raw s/step); and whole-epoch / training-bar ratios."""
    normal, first, overhead = [], [], []
    prev: Epoch | None = None
    for ep in run.epochs:
        d = ep.duration() if ep.complete else (ep.approx_duration() if ep.closed else None)
        n = ep.steps or steps
        if (
            d is not None
            and ep.end_ts is not None
            and prev is not None
            and prev.end_ts is not None
            and not ep.restart
            and prev.number is not None
            and ep.number == prev.number + 1
        ):
            wall = ep.end_ts - prev.end_ts  # lstmgen: includes what happens between epochs
            if d * 0.9 <= wall <= d * 3:
                d = wall
        prev = ep
        if d is None or d <= 0 or not n:
            continue
        if ep.restart:
            steady = ep.steady_duration()
            first.append((ep.number or 0, (steady if steady else d) / n, d / n))
        else:
            normal.append((ep.number or 0, d / n))
        ratio = _overhead(ep, d, n) if ep.complete else None
        if ratio is not None:
            overhead.append(ratio)
    return normal, first, overhead


def wall_rate(run: Run, steps: int | None, started_ts: float | None, anchor_ts: float) -> tuple[float, str] | None:
    """Wall clock: from --started to the anchor, else between timestamps found in the log."""
    done = run.steps_done()
    if started_ts is not None:
        if done > 0 and anchor_ts > started_ts:
            return (anchor_ts - started_ts) / done, "wall clock since --started"
        return None
    pts = run.stamps
    if len(pts) < 2:
        return None
    late = [p for p in pts if steps and p[1] >= steps] or pts  # after epoch 1 when possible (no start-up)
    a, b = (late[0], pts[-1]) if len(late) > 1 and late[0] != pts[-1] else (pts[0], pts[-1])
    if b[1] - a[1] >= max(1, (steps or 0) // 2) and b[0] > a[0]:
        return (b[0] - a[0]) / (b[1] - a[1]), "timestamps in the log"
    return None


def keras_figure(run: Run) -> float | None:
    """The latest per-step figure a Keras bar showed (mid-epoch preferred: it leaves validation out)."""
    for ep in reversed(run.epochs):
        p = ep.last_mid
        if p is not None and p.kind.startswith("keras"):
            br = bar_rate(ep)
            if br is not None and br[1] >= 0.4:
                return br[0]
        if ep.final is not None and ep.final.kind.startswith("keras") and ep.final.per_step_s:
            return ep.final.per_step_s
    return None
