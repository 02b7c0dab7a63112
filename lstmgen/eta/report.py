"""The human report of an `Estimate`, and the words for why Keras' own per-step figure differs from the truth."""

from __future__ import annotations

from lstmgen.eta.record import EpochEta, Estimate
from lstmgen.eta.timeparse import fmt_full, fmt_hms, fmt_span, fmt_when

MAX_ROWS = 8  # epochs shown in the human table


def gap_note(keras: float | None, wall: float | None, effective: float | None, epochs_used: int) -> str | None:
    """Explain in words why Keras' per-step figure differs from the real rate."""
    if keras is None or keras <= 0:
        return None
    if wall is not None:
        what, why = (
            "the wall clock says",
            ("step 1 (compilation/tracing) and input-pipeline time are not in Keras' figure"),
        )
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
    return (
        f"Keras reports {keras:.3f} s/step; {what} {real:.3f} s/step: {abs(gap):.0%} "
        f"{'slower' if gap > 0 else 'faster'} — {why}"
    )


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
        rows: list[EpochEta | None] = list(est.epoch_ends)
        if len(rows) > MAX_ROWS:
            rows = [*rows[: MAX_ROWS - 2], None, *rows[-1:]]
        for r in rows:
            lines.append(
                f"{'…':>7}"
                if r is None
                else f"{r.epoch:>7}  {fmt_when(r.ends_at, ref):<17} {fmt_hms(r.remaining_s):>11}"
            )
    if est.run_end_low and est.run_end_high and not est.finished and est.run_end_low != est.run_end_high:
        lines.append(
            f"Range: {fmt_when(est.run_end_low, ref)} – {fmt_when(est.run_end_high, ref)} "
            f"({est.interval:.0%} interval; {est.confidence} confidence)"
        )
    if est.total_s is not None and not est.finished:
        since = (
            f"counted from {fmt_when(est.started, ref)} ({est.started_source})"
            if est.started
            else "the log's epoch times plus what is left"
        )
        lines.append(f"Whole run ≈ {fmt_span(est.total_s)}, {since}")
    lines += [f"Note: {n}" for n in est.notes]
    if est.finished and est.run_end is not None:
        lines.append(f"Run finished at {fmt_full(est.run_end)}")
    elif est.run_end is not None and est.stale:
        lines.append(f"Run would have finished at {fmt_full(est.run_end)}, but the log stopped growing: stale")
    elif est.run_end is not None:
        lines.append(f"Run finishes at {fmt_full(est.run_end)} (in {fmt_hms(est.remaining_s)})")
    else:
        lines.append("Run finish time: unknown (not enough timing in the log yet)")
    return "\n".join(lines)
