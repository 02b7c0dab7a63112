"""`lstmgen estimate --log`: when will a Keras / tqdm / lstmgen training run finish?

Pure Python: never imports TensorFlow, Keras or NumPy. Pipeline: bytes → `logparse.parse_log` → events →
`logruns.build_runs` → runs → `etarate.choose_rate` → seconds per step → `Estimate` (range: `etainterval`) →
`etareport.format_report` or JSON. `lstmgen.training.etacallback` feeds the same pipeline from inside `model.fit`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from lstmgen.errors import LogError
from lstmgen.eta.epochs import Run
from lstmgen.eta.interval import relative_halfwidth
from lstmgen.eta.logparse import Event
from lstmgen.eta.logruns import build_runs
from lstmgen.eta.rate import choose_rate
from lstmgen.eta.record import MAX_JSON_ROWS, EpochEta, Estimate
from lstmgen.eta.report import format_report, gap_note
from lstmgen.eta.timeline import elapsed, future_durations, pattern_of, time_into_epoch
from lstmgen.eta.timeparse import fmt_full, fmt_span, parse_time, to_datetime

__all__ = ["Estimate", "estimate", "format_report", "parse_time"]

_KIND_WORDS = {"keras3": "Keras 3", "keras2": "Keras 1/2", "tqdm": "tqdm", "lstmgen": "lstmgen train.log"}
_FORMATS = (
    "Keras 'Epoch k/N' with '12/345 ━━━ …' or '[====>…] - ETA' bars, tqdm bars "
    "('45%|████▌ | 450/1000 [01:23<01:42, 5.37it/s]') or lstmgen train.log lines"
)


def estimate(
    events: list[Event],
    *,
    started: str | datetime | None = None,
    now: str | datetime | None = None,
    epochs: int | None = None,
    mtime: float | None = None,
    current_time: datetime | None = None,
    log_name: str = "the log",
    run: int | None = None,
) -> Estimate:
    """Estimate run number `run` (1-based, file order; default the last) of `events`. Raises LogError when
    there is nothing to estimate.

        >>> est = estimate(parse_log(open("train.log", "rb").read()))  # doctest: +SKIP
        >>> est.run_end, est.run_end_low, est.run_end_high  # doctest: +SKIP
    """
    runs = build_runs(events)
    if not any(r.has_training for r in runs):
        raise LogError(f"no training progress found in {log_name}: expected {_FORMATS}")
    if run is not None and not 1 <= run <= len(runs):
        raise LogError(f"--run {run}: {log_name} has {len(runs)} run{'s' if len(runs) > 1 else ''} (1–{len(runs)})")
    index = (run or len(runs)) - 1
    borrowed = None
    if run is None and not _timed(runs[index]) and any(_timed(r) for r in runs[:index]):
        borrowed = next(r for r in reversed(runs[:index]) if _timed(r))
    est = _estimate_run(runs, index, borrowed, started, now, epochs, mtime, current_time, log_name)
    est.run = index + 1
    return est


def _timed(run: Run) -> bool:
    """The run shows at least one finished epoch with a duration."""
    return any(e.complete and e.duration() for e in run.epochs)


def _estimate_run(runs, index, borrowed, started, now, epochs, mtime, current_time, log_name) -> Estimate:
    run = runs[index]
    cur = run.last_epoch
    clock = current_time or datetime.now()
    as_of, as_of_src = _anchor(run, now, mtime, clock)
    start_dt = parse_time(started, as_of) if isinstance(started, str) else started
    if start_dt is not None and start_dt > as_of:
        raise LogError(f"--started {fmt_full(start_dt)} is after the estimate's 'now' ({fmt_full(as_of)})")
    if epochs is not None and cur.number is not None and epochs < cur.number:
        raise LogError(f"--epochs {epochs} is less than the current epoch ({cur.number}); pass the total")
    total_epochs = epochs or run.total_epochs
    steps = cur.steps or _common_steps(run)
    per_epoch_only = steps is None and not any(e.snaps for e in run.epochs)
    unit = 1 if per_epoch_only else steps
    anchor_ts = as_of.timestamp()
    rate = choose_rate(run, unit, start_dt.timestamp() if start_dt else None, anchor_ts)
    notes = _notes(runs, index, run, total_epochs, epochs) + rate.notes
    if borrowed is not None and rate.step_s is None:
        unit, per_epoch_only = 1, True
        size = _common_steps(borrowed) or 1
        rate = choose_rate(borrowed, size, None, anchor_ts)
        rate.step_s = rate.step_s * size if rate.step_s is not None else None
        rate.spread, rate.epochs_used = max(rate.spread, 0.1), min(rate.epochs_used, 1)
        notes.append(
            f"run {index + 1} has not printed any timing yet: its epochs are assumed to take as long "
            f"as run {runs.index(borrowed) + 1}'s (a guess until its first epoch ends; "
            f"--run {runs.index(borrowed) + 1} shows that run)"
        )
    est = Estimate(
        log=log_name,
        kind=" + ".join(_KIND_WORDS.get(k, k) for k in run.kinds) or "unknown",
        runs_in_file=len(runs),
        epoch=cur.number,
        epochs=total_epochs,
        step=None if per_epoch_only else cur.step,
        steps_per_epoch=steps,
        seconds_per_step=None if per_epoch_only else rate.step_s,  # known even when the epoch size is not
        seconds_per_epoch=rate.step_s * unit if rate.step_s and unit else None,
        rate_source=rate.source,
        as_of=as_of,
        as_of_source=as_of_src,
        started=start_dt,
        started_source="--started" if start_dt else None,
        keras_seconds_per_step=rate.keras_step_s,
        wall_seconds_per_step=rate.wall_step_s,
        finished=run.finished,
        per_epoch_only=per_epoch_only,
        notes=notes,
    )
    if est.started is None and run.start_ts is not None and _plausible_start(run, as_of, as_of_src):
        est.started, est.started_source = to_datetime(run.start_ts), "the log"
    est.gap_note = gap_note(rate.keras_step_s, rate.wall_step_s, rate.step_s, rate.epochs_used)
    if run.finished:
        _finish(est, run, as_of)
        return est
    if rate.step_s is None or unit is None:
        if unit is None:
            est.notes.append(
                "step count unknown (a Keras 'Unknown' bar): the epoch's end can be estimated once "
                "the first epoch has finished"
            )
        return est
    last_num = cur.number or 1
    d_epoch = unit * rate.step_s
    slack = 0.0  # how much earlier the run may end because the current epoch's start time is unknown
    if cur.complete:
        est.epoch_remaining_s = 0.0
    elif cur.snaps:
        est.epoch_remaining_s = max(d_epoch - cur.step * rate.step_s / rate.overhead, 0.0)
    else:
        into, slack = time_into_epoch(run, est, d_epoch)
        est.epoch_remaining_s = d_epoch - into
    remaining = est.epoch_remaining_s
    rows = [] if cur.complete else [EpochEta(last_num, _plus(as_of, remaining), remaining)]
    future = max((total_epochs or last_num) - last_num, 0)
    for j, d in future_durations(future, d_epoch, unit * rate.slope, pattern_of(rate, unit, last_num), last=last_num):
        remaining += d
        if j <= MAX_JSON_ROWS or j == future:
            rows.append(EpochEta(last_num + j, _plus(as_of, remaining), remaining))
    est.epoch_ends, est.remaining_s = rows, remaining
    est.run_end = _plus(as_of, remaining)
    lo, hi = rate.rel_low, rate.rel_high
    if rate.from_epochs or borrowed is not None:
        k = future + (est.epoch_remaining_s / d_epoch if d_epoch else 0.0)
        lo = hi = relative_halfwidth(rate.spread, rate.epochs_used, k, rate.resolution)
    est.run_end_low = _plus(as_of, max(remaining * (1 - min(lo, 0.999)) - slack, 0.0))
    est.run_end_high = _plus(as_of, remaining * (1 + hi))
    est.confidence = "high" if hi <= 0.05 else "medium" if hi <= 0.15 else "low"
    est.elapsed_s = elapsed(run, est, rate.step_s, unit, rate.overhead)
    if now is None and mtime is not None:
        _check_stale(est, (clock - to_datetime(mtime)).total_seconds())
    return est


def _check_stale(est: Estimate, silent_s: float) -> None:
    """Flag a log whose writer has been silent longer than the whole rest of the run should have taken."""
    assert est.run_end_high is not None
    allowed = (est.run_end_high - est.as_of).total_seconds()
    if silent_s <= allowed + max(60.0, 0.1 * allowed):
        return
    est.stale = True
    est.notes.append(
        f"the log is stale: last written {fmt_span(silent_s)} ago, longer than the whole rest of the "
        "run should have taken, so the process writing it has probably stopped (crashed, killed, or "
        "ended without a final line); check it. The times above are where the run would be had it "
        "kept going from its last line; --now TIME estimates as of another moment"
    )


def _anchor(run: Run, now, mtime: float | None, clock: datetime) -> tuple[datetime, str]:
    """The moment the log's state describes: --now, the last timestamped line, the file's mtime, or now."""
    if isinstance(now, datetime):
        return now, "--now"
    if now:
        return parse_time(now, clock), "--now"
    cur = run.current
    cands = [
        cur.snaps[-1].timestamp if cur and cur.snaps else None,
        cur.end_ts if cur else None,
        run.ended.timestamp if run.ended else None,
        run.interrupted.timestamp if run.interrupted else None,
    ]
    if run.stamps and run.stamps[-1][1] >= run.steps_done() and run.has_training and len(run.stamps) > 1:
        cands.append(run.stamps[-1][0])
    known = [c for c in cands if c is not None]
    if known:
        return to_datetime(max(known)), "the last log line"
    if mtime is not None:
        return to_datetime(mtime), "the file's modification time"
    return clock, "the current time"


def _plausible_start(run: Run, as_of: datetime, source: str) -> bool:
    """A start stamp from the log fits the anchor: both from the log, or --now close enough to it."""
    if source == "the last log line":
        return True
    if source != "--now" or run.start_ts is None:
        return False
    span = as_of.timestamp() - run.start_ts
    logged = sum(e.duration() or 0.0 for e in run.epochs)
    return 0 <= span <= 3 * logged + 3600


def _common_steps(run: Run) -> int | None:
    sizes = Counter(e.steps for e in run.epochs if e.steps)
    return sizes.most_common(1)[0][0] if sizes else None


def _plus(t: datetime, seconds: float) -> datetime:
    """t + seconds, clamped to what datetime can hold."""
    try:
        return t + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return datetime.max if seconds > 0 else datetime.min


def _finish(est: Estimate, run: Run, as_of: datetime) -> None:
    end_ts = run.ended.timestamp if run.ended and run.ended.timestamp else run.last_epoch.end_ts
    est.run_end = est.run_end_low = est.run_end_high = to_datetime(end_ts) if end_ts else as_of
    est.remaining_s = est.epoch_remaining_s = 0.0
    est.confidence = "high"
    how = "stopped early (EarlyStopping)" if run.ended and run.ended.reason == "early_stopping" else "finished"
    est.notes.append(f"the run has {how} at epoch {run.last_epoch.number}")
    est.elapsed_s = elapsed(run, est, est.seconds_per_step or 0.0, est.steps_per_epoch or 1, 1.0)


def _notes(runs: list[Run], index: int, run: Run, total: int | None, override: int | None) -> list[str]:
    notes = []
    if len(runs) > 1:
        which = "the last one" if index == len(runs) - 1 else f"run {index + 1}"
        notes.append(f"{len(runs)} runs in this file; estimating {which} (--run N picks another)")
    if run.segments > 1:
        notes.append(
            f"the run was resumed ({run.segments} segments); each restart's first epoch includes "
            "compilation and is not used for the speed"
        )
    if run.eval_bars:
        notes.append(f"{run.eval_bars} evaluate()/predict()/validation bar(s) are not training epochs")
    if total is None:
        notes.append(
            "number of epochs unknown (no 'Epoch k/N' in the log): assuming the current epoch is the "
            "last; pass --epochs N"
        )
    elif override is not None and run.total_epochs and override != run.total_epochs:
        notes.append(f"--epochs {override} overrides the log's {run.total_epochs}")
    elif total >= 500 and not run.finished:
        notes.append(f"the run is capped at {total:,} epochs; callbacks such as EarlyStopping may end it sooner")
    if run.interrupted is not None and run.interrupted.line > run.last_line:
        i = run.interrupted
        notes.append(
            f"the log says training was interrupted (epoch {i.epoch}, step {i.step}); times assume it resumes now"
        )
    return notes
