"""`lstmgen estimate --log`: when will a Keras / tqdm / lstmgen training run finish?

Pure Python: never imports TensorFlow, Keras or NumPy. Pipeline: bytes → `logparse.parse_log` → events →
`logruns.build_runs` → runs → `etarate.choose_rate` → seconds per step → `Estimate` → report or JSON.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from lstmgen.errors import UserError
from lstmgen.etarate import choose_rate
from lstmgen.logparse import Event
from lstmgen.logruns import Run, build_runs
from lstmgen.timeparse import fmt_full, fmt_hms, fmt_span, fmt_when, parse_time, to_datetime

__all__ = ["Estimate", "estimate", "format_report", "parse_time", "estimate_log_command"]

MAX_ROWS = 8  # epochs shown in the human table
MAX_JSON_ROWS = 200
_KIND_WORDS = {"keras3": "Keras 3", "keras2": "Keras 1/2", "tqdm": "tqdm", "lstmgen": "lstmgen train.log"}
_FORMATS = ("Keras 'Epoch k/N' with '12/345 ━━━ …' or '[====>…] - ETA' bars, tqdm bars "
            "('45%|████▌ | 450/1000 [01:23<01:42, 5.37it/s]') or lstmgen train.log lines")


@dataclass
class EpochEta:
    epoch: int
    ends_at: datetime
    remaining_s: float


@dataclass
class Estimate:
    """Everything the report and `--json` show. Times are naive local datetimes; durations in seconds."""

    log: str
    kind: str
    runs_in_file: int
    epoch: int | None
    epochs: int | None
    step: int | None
    steps_per_epoch: int | None
    seconds_per_step: float | None
    seconds_per_epoch: float | None
    rate_source: str
    as_of: datetime
    as_of_source: str
    started: datetime | None = None
    started_source: str | None = None
    elapsed_s: float | None = None
    epoch_remaining_s: float | None = None
    remaining_s: float | None = None
    run_end: datetime | None = None
    run_end_low: datetime | None = None
    run_end_high: datetime | None = None
    keras_seconds_per_step: float | None = None
    wall_seconds_per_step: float | None = None
    gap_note: str | None = None
    finished: bool = False
    stale: bool = False  # the log stopped growing long before the run should have ended
    per_epoch_only: bool = False  # the log shows whole-epoch times but no step counts
    confidence: str = "low"
    epoch_ends: list[EpochEta] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total_s(self) -> float | None:
        """Whole run: elapsed + remaining."""
        if self.elapsed_s is None or self.remaining_s is None:
            return None
        return self.elapsed_s + self.remaining_s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total_s"] = self.total_s
        rows = d.pop("epoch_ends")
        d["epoch_ends_truncated"] = len(rows) > MAX_JSON_ROWS
        d["epoch_ends"] = rows[: MAX_JSON_ROWS - 1] + rows[-1:] if len(rows) > MAX_JSON_ROWS else rows
        return _jsonable(d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _jsonable(x):
    if isinstance(x, datetime):
        return x.isoformat(timespec="seconds")
    if isinstance(x, float):
        return round(x, 6) if x == x and abs(x) != float("inf") else None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    return x


def estimate(events: list[Event], *, started: str | datetime | None = None, now: str | datetime | None = None,
             epochs: int | None = None, mtime: float | None = None, current_time: datetime | None = None,
             log_name: str = "the log") -> Estimate:
    """Estimate the last run in `events`. Raises UserError when there is nothing to estimate."""
    runs = build_runs(events)
    if not any(r.has_training for r in runs):
        raise UserError(f"no training progress found in {log_name}: expected {_FORMATS}")
    run = runs[-1]
    cur = run.current
    clock = current_time or datetime.now()
    as_of, as_of_src = _anchor(run, now, mtime, clock)
    start_dt = parse_time(started, as_of) if isinstance(started, str) else started
    if start_dt is not None and start_dt > as_of:
        raise UserError(f"--started {fmt_full(start_dt)} is after the estimate's 'now' ({fmt_full(as_of)})")
    if epochs is not None and cur.number is not None and epochs < cur.number:
        raise UserError(f"--epochs {epochs} is less than the current epoch ({cur.number}); pass the total")
    total_epochs = epochs or run.total_epochs
    steps = cur.steps or _common_steps(run)
    per_epoch_only = steps is None and not any(e.snaps for e in run.epochs)
    unit = 1 if per_epoch_only else steps
    anchor_ts = as_of.timestamp()
    rate = choose_rate(run, unit, start_dt.timestamp() if start_dt else None, anchor_ts)
    notes = _notes(runs, run, total_epochs, epochs) + rate.notes
    est = Estimate(
        log=log_name, kind=" + ".join(_KIND_WORDS.get(k, k) for k in run.kinds) or "unknown",
        runs_in_file=len(runs), epoch=cur.number, epochs=total_epochs,
        step=None if per_epoch_only else cur.step, steps_per_epoch=steps,
        seconds_per_step=None if per_epoch_only else rate.step_s,  # known even when the epoch size is not
        seconds_per_epoch=rate.step_s * unit if rate.step_s and unit else None,
        rate_source=rate.source, as_of=as_of, as_of_source=as_of_src, started=start_dt,
        started_source="--started" if start_dt else None,
        keras_seconds_per_step=rate.keras_step_s, wall_seconds_per_step=rate.wall_step_s,
        finished=run.finished, per_epoch_only=per_epoch_only, notes=notes)
    if est.started is None and run.start_ts is not None and _plausible_start(run, as_of, as_of_src):
        est.started, est.started_source = to_datetime(run.start_ts), "the log"
    est.gap_note = _gap_note(rate.keras_step_s, rate.wall_step_s, rate.step_s, rate.epochs_used)
    if run.finished:
        _finish(est, run, as_of)
        return est
    if rate.step_s is None or unit is None:
        if unit is None:
            est.notes.append("step count unknown (a Keras 'Unknown' bar): the epoch's end can be estimated once "
                             "the first epoch has finished")
        return est
    last_num = cur.number or 1
    d_epoch = unit * rate.step_s
    slack = 0.0  # how much earlier the run may end because the current epoch's start time is unknown
    if cur.complete:
        est.epoch_remaining_s = 0.0
    elif cur.snaps:
        est.epoch_remaining_s = max(d_epoch - cur.step * rate.step_s / rate.overhead, 0.0)
    else:
        into, slack = _time_into_epoch(run, est, d_epoch)
        est.epoch_remaining_s = d_epoch - into
    remaining = est.epoch_remaining_s
    rows = [] if cur.complete else [EpochEta(last_num, _plus(as_of, remaining), remaining)]
    future = max((total_epochs or last_num) - last_num, 0)
    for j, d in _future_durations(future, d_epoch, unit * rate.slope):
        remaining += d
        if j <= MAX_JSON_ROWS or j == future:
            rows.append(EpochEta(last_num + j, _plus(as_of, remaining), remaining))
    est.epoch_ends, est.remaining_s = rows, remaining
    est.run_end = _plus(as_of, remaining)
    est.run_end_low = _plus(as_of, max(remaining * (1 - min(rate.rel_low, 0.999)) - slack, 0.0))
    est.run_end_high = _plus(as_of, remaining * (1 + rate.rel_high))
    est.confidence = "high" if rate.rel_high <= 0.05 else "medium" if rate.rel_high <= 0.15 else "low"
    est.elapsed_s = _elapsed(run, est, rate.step_s, unit, rate.overhead)
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
    est.notes.append(f"the log is stale: last written {fmt_span(silent_s)} ago, longer than the whole rest of the "
                     "run should have taken, so the process writing it has probably stopped (crashed, killed, or "
                     "ended without a final line); check it. The times above are where the run would be had it "
                     "kept going from its last line; --now TIME estimates as of another moment")


def _anchor(run: Run, now, mtime: float | None, clock: datetime) -> tuple[datetime, str]:
    """The moment the log's state describes: --now, the last timestamped line, the file's mtime, or now."""
    if isinstance(now, datetime):
        return now, "--now"
    if now:
        return parse_time(now, clock), "--now"
    cur = run.current
    cands = [cur.snaps[-1].timestamp if cur and cur.snaps else None, cur.end_ts if cur else None,
             run.ended.timestamp if run.ended else None, run.interrupted.timestamp if run.interrupted else None]
    if run.stamps and run.stamps[-1][1] >= run.steps_done() and run.has_training and len(run.stamps) > 1:
        cands.append(run.stamps[-1][0])
    cands = [c for c in cands if c is not None]
    if cands:
        return to_datetime(max(cands)), "the last log line"
    if mtime is not None:
        return to_datetime(mtime), "the file's modification time"
    return clock, "the current time"


def _plausible_start(run: Run, as_of: datetime, source: str) -> bool:
    """A start stamp from the log fits the anchor: both from the log, or --now close enough to it."""
    if source == "the last log line":
        return True
    if source != "--now":
        return False
    span = as_of.timestamp() - run.start_ts
    logged = sum(e.duration() or 0.0 for e in run.epochs)
    return 0 <= span <= 3 * logged + 3600


def _common_steps(run: Run) -> int | None:
    sizes = Counter(e.steps for e in run.epochs if e.steps)
    return sizes.most_common(1)[0][0] if sizes else None


def _future_durations(count: int, d0: float, slope: float, cap: int = 1000):
    """(epoch offset, duration) of the next `count` epochs, drifting by `slope` per epoch (clamped ×0.5–×2);
    past `cap` epochs the rest comes as one lump."""
    for j in range(1, min(count, cap) + 1):
        yield j, min(max(d0 + slope * j, 0.5 * d0), 2 * d0)
    if count > cap:
        yield count, min(max(d0 + slope * cap, 0.5 * d0), 2 * d0) * (count - cap)


def _plus(t: datetime, seconds: float) -> datetime:
    """t + seconds, clamped to what datetime can hold."""
    try:
        return t + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return datetime.max if seconds > 0 else datetime.min


def _time_into_epoch(run: Run, est: Estimate, d_epoch: float) -> tuple[float, float]:
    """How far an epoch with no progress lines (verbose=2, Keras 1) has got by the anchor time, and by how
    much that is uncertain. Without --started the log's state is taken as of its last line: the epoch has
    just begun (exact for a file being written, and for --now set to when the log was copied)."""
    if est.started is not None and est.as_of_source in ("--now", "the current time"):
        done = sum(e.duration() or d_epoch for e in run.epochs[:-1])
        return min(max((est.as_of - est.started).total_seconds() - done, 0.0), 0.9 * d_epoch), 0.0
    if est.as_of_source in ("--now", "the current time"):
        est.notes.append(f"no progress is shown inside epoch {run.current.number} (one line per epoch): it is "
                         "taken as just begun; it may end up to one epoch sooner (pass --started to know)")
        return 0.0, d_epoch
    return 0.0, 0.0


def _elapsed(run: Run, est: Estimate, step_s: float, unit: int, overhead: float) -> float | None:
    """Seconds since the run began: wall clock when known, else the log's own epoch times."""
    if est.started is not None:
        return (est.as_of - est.started).total_seconds()
    total = 0.0
    for ep in run.epochs[:-1] if not run.current.complete else run.epochs:
        d = ep.duration() if ep.complete else ep.approx_duration()
        total += d if d is not None else step_s * (ep.steps or unit)
    cur = run.current
    if not cur.complete and cur.snaps:
        last, first = cur.snaps[-1], cur.snaps[0]
        if last.elapsed_s is not None and not last.final:
            total += last.elapsed_s
        elif first.step == 1 and first.kind.startswith("keras") and last.step > 1:
            # Keras: step 1's own time (compilation) shows in the first snapshot, the rest at the bar's rate
            t1 = first.eta_s / (first.total - 1) if first.eta_s and first.total and first.total > 1 else \
                (first.per_step_s or step_s / overhead)
            total += t1 + (cur.step - 1) * step_s / overhead
        else:
            total += cur.step * step_s / overhead
    elif not cur.complete and est.epoch_remaining_s is not None:
        total += max(unit * step_s - est.epoch_remaining_s, 0.0)
    return total


def _finish(est: Estimate, run: Run, as_of: datetime) -> None:
    end_ts = run.ended.timestamp if run.ended and run.ended.timestamp else run.current.end_ts
    est.run_end = est.run_end_low = est.run_end_high = to_datetime(end_ts) if end_ts else as_of
    est.remaining_s = est.epoch_remaining_s = 0.0
    est.confidence = "high"
    how = "stopped early (EarlyStopping)" if run.ended and run.ended.reason == "early_stopping" else "finished"
    est.notes.append(f"the run has {how} at epoch {run.current.number}")
    est.elapsed_s = _elapsed(run, est, est.seconds_per_step or 0.0, est.steps_per_epoch or 1, 1.0)


def _notes(runs: list[Run], run: Run, total: int | None, override: int | None) -> list[str]:
    notes = []
    if len(runs) > 1:
        notes.append(f"{len(runs)} runs in this file; estimating the last one")
    if run.segments > 1:
        notes.append(f"the run was resumed ({run.segments} segments); each restart's first epoch includes "
                     "compilation and is not used for the speed")
    if run.eval_bars:
        notes.append(f"{run.eval_bars} evaluate()/predict()/validation bar(s) are not training epochs")
    if total is None:
        notes.append("number of epochs unknown (no 'Epoch k/N' in the log): assuming the current epoch is the "
                     "last; pass --epochs N")
    elif override is not None and run.total_epochs and override != run.total_epochs:
        notes.append(f"--epochs {override} overrides the log's {run.total_epochs}")
    elif total >= 500 and not run.finished:
        notes.append(f"the run is capped at {total:,} epochs; callbacks such as EarlyStopping may end it sooner")
    if run.interrupted is not None and run.interrupted.line > run.last_line:
        i = run.interrupted
        notes.append(f"the log says training was interrupted (epoch {i.epoch}, step {i.step}); times assume it "
                     "resumes now")
    return notes


def _gap_note(keras: float | None, wall: float | None, effective: float | None, epochs_used: int) -> str | None:
    """Explain in words why Keras' per-step figure differs from the real rate."""
    if keras is None or keras <= 0:
        return None
    if wall is not None:
        what, why = "the wall clock says", "step 1 (compilation/tracing) and input-pipeline time are not in " \
                                           "Keras' figure"
        real = wall
    elif effective is not None and epochs_used:
        what, why = "whole epochs take", "validation, callbacks and step 1 are not in Keras' mid-epoch figure"
        real = effective
    else:
        return None
    gap = real / keras - 1
    if abs(gap) < 0.05:
        return None
    if gap < 0:
        why = "Keras' figure still averages in slower earlier steps, or the run sped up"
    return (f"Keras reports {keras:.3f} s/step; {what} {real:.3f} s/step: {abs(gap):.0%} "
            f"{'slower' if gap > 0 else 'faster'} — {why}")


def format_report(est: Estimate) -> str:
    """Short human report: position, speed, a table of epoch ends, notes, and the run's finish time."""
    ref = est.as_of
    lines = [f"{est.log}: {est.kind}", f"As of {fmt_full(ref)} ({est.as_of_source})."]
    pos = f"Epoch {est.epoch or '?'}/{est.epochs or '?'}"
    if est.steps_per_epoch and est.step is not None:
        pos += f", step {est.step:,}/{est.steps_per_epoch:,} ({est.step / est.steps_per_epoch:.1%})"
    if est.seconds_per_epoch:
        speed = f"{est.seconds_per_step:.4g} s/step, " if est.seconds_per_step else ""
        pos += f"; {speed}{fmt_span(est.seconds_per_epoch)} per epoch ({est.rate_source})"
    elif est.seconds_per_step:
        pos += f"; {est.seconds_per_step:.4g} s/step ({est.rate_source})"
    lines.append(pos)
    if est.gap_note:
        lines.append(est.gap_note)
    if est.epoch_ends:
        lines.append(f"{'epoch':>7}  {'ends at':<17} {'remaining':>11}")
        rows = est.epoch_ends
        if len(rows) > MAX_ROWS:
            rows = rows[: MAX_ROWS - 2] + [None] + rows[-1:]
        for r in rows:
            lines.append(f"{'…':>7}" if r is None else
                         f"{r.epoch:>7}  {fmt_when(r.ends_at, ref):<17} {fmt_hms(r.remaining_s):>11}")
    if est.run_end_low and est.run_end_high and not est.finished and est.run_end_low != est.run_end_high:
        lines.append(f"Range: {fmt_when(est.run_end_low, ref)} – {fmt_when(est.run_end_high, ref)} "
                     f"({est.confidence} confidence)")
    if est.total_s is not None and not est.finished:
        since = f"counted from {fmt_when(est.started, ref)} ({est.started_source})" if est.started else \
            "the log's epoch times plus what is left"
        lines.append(f"Whole run ≈ {fmt_span(est.total_s)}, {since}")
    lines += [f"Note: {n}" for n in est.notes]
    if est.finished:
        lines.append(f"Run finished at {fmt_full(est.run_end)}")
    elif est.run_end is not None and est.stale:
        lines.append(f"Run would have finished at {fmt_full(est.run_end)}, but the log stopped growing: stale")
    elif est.run_end is not None:
        lines.append(f"Run finishes at {fmt_full(est.run_end)} (in {fmt_hms(est.remaining_s)})")
    else:
        lines.append("Run finish time: unknown (not enough timing in the log yet)")
    return "\n".join(lines)


def estimate_log_command(log: str, started: str | None, now: str | None, epochs: int | None, follow: bool,
                         as_json: bool, out=None, *, poll_s: float = 2.0, sleep=None) -> int:
    """`lstmgen estimate --log FILE`: print the report (or JSON); return the exit code. Errors → UserError.

    `out` defaults to the sys.stdout of the moment of the call (so click's CliRunner captures it).
    """
    from lstmgen import etafollow

    out = out if out is not None else sys.stdout
    if epochs is not None and epochs < 1:
        raise UserError(f"--epochs must be at least 1 (got {epochs})")
    if now is not None:
        parse_time(now)  # a bad --now fails before any reading
    if follow:
        return etafollow.follow(log, started, now, epochs, as_json, out, poll_s=poll_s, sleep=sleep)
    est = etafollow.estimate_file(log, started, now, epochs)
    out.write((est.to_json() if as_json else format_report(est)) + "\n")
    out.flush()
    return 0
