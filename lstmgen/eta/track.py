"""Live ETA for a training loop: feed epoch and step times, get the same forecast as `estimate --log`.

Standard library only (no Keras): `lstmgen.training.etacallback.EtaCallback` wraps it for `model.fit`, and lstmgen's own
`train` feeds it directly. The measurements become the events a log parser would have produced (epoch header,
progress, epoch end) and go through `lstmgen.eta.estimate.estimate`, so the forecast, the 80 % range and the handling
of compilation, drift and two-regime epochs are exactly those of `estimate --log`.

    >>> t = EtaTracker()
    >>> t.epoch_end(1, 10, 30.0, steps=100, now=1000.0); t.epoch_end(2, 10, 20.0, steps=100, now=1020.0)
    >>> t.epoch_end(3, 10, 20.0, steps=100, now=1040.0); round(t.forecast(now=1040.0).remaining_s)
    140
"""

from __future__ import annotations

import time
from datetime import datetime

from lstmgen.eta.estimate import estimate
from lstmgen.eta.logevents import EpochEnd, EpochHeader, Progress
from lstmgen.eta.record import Estimate
from lstmgen.eta.timeparse import fmt_hms, fmt_when


class EtaTracker:
    """Collects one run's epoch (and optionally step) times; `forecast()` → `Estimate` or None."""

    def __init__(self) -> None:
        self.events: list = []
        self.line = 0
        self.last: Estimate | None = None

    def _add(self, ev) -> None:
        self.events.append(ev)
        self.line += 1

    def epoch_begin(self, epoch: int, epochs: int) -> None:
        """Epoch `epoch` (1-based) of `epochs` starts."""
        self._add(EpochHeader(self.line, epoch, epochs))

    def step(self, epoch: int, epochs: int, step: int, steps: int | None, elapsed_s: float, now: float) -> None:
        """`step` steps of this epoch are done, `elapsed_s` seconds after it began."""
        if self.events and isinstance(self.events[-1], Progress) and self.events[-1].epoch == epoch:
            self.events.pop()  # only the latest position inside an epoch matters
            self.line -= 1
        self._add(
            Progress(
                self.line, step, steps, "lstmgen", elapsed_s=elapsed_s, timestamp=now, epoch=epoch, epoch_total=epochs
            )
        )

    def epoch_end(
        self, epoch: int, epochs: int, seconds: float, steps: int | None = None, now: float | None = None
    ) -> None:
        """Epoch `epoch` took `seconds` in all (training, validation, callbacks, saving)."""
        if self.events and isinstance(self.events[-1], Progress):
            self.events.pop()
            self.line -= 1
        self._add(
            EpochEnd(
                self.line,
                seconds,
                steps=steps,
                epoch=epoch,
                epoch_total=epochs,
                timestamp=time.time() if now is None else now,
                kind="lstmgen",
            )
        )

    def forecast(self, now: float | None = None) -> Estimate | None:
        """The forecast as of `now` (POSIX seconds; default: now), or None before there is any timing."""
        if not self.events:
            return None
        at = datetime.fromtimestamp(time.time() if now is None else now)
        try:
            self.last = estimate(self.events, now=at, log_name="fit")
        except Exception:  # a forecast must never break training
            return self.last
        return self.last


def eta_line(est: Estimate | None) -> str:
    """One line: when this epoch and the run end, with the range.

    >>> eta_line(None)
    'ETA: waiting for the first epoch'
    """
    if est is None or est.run_end is None:
        return "ETA: waiting for the first epoch"
    if est.finished:
        return f"ETA: run finished at {fmt_when(est.run_end, est.as_of)}"
    ref = est.as_of
    epoch = ""
    if est.epoch_ends and est.epoch_ends[0].epoch == est.epoch:
        epoch = f"epoch {est.epoch}/{est.epochs} ends {fmt_when(est.epoch_ends[0].ends_at, ref)}; "
    rng = ""
    if est.run_end_low and est.run_end_high and est.run_end_low != est.run_end_high:
        rng = f" ({est.interval:.0%} range {fmt_when(est.run_end_low, ref)}–{fmt_when(est.run_end_high, ref)})"
    return f"ETA: {epoch}run ends {fmt_when(est.run_end, ref)}{rng}, {fmt_hms(est.remaining_s)} left"
