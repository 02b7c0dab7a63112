"""A training run found in a log, and its epochs: what each epoch's bar showed and how long the epoch took.

>>> run = build_runs(events)[-1]                     # doctest: +SKIP  (lstmgen.eta.logruns)
>>> run.current.duration(), run.steps_done()
(67.0, 3000)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lstmgen.eta.logparse import EpochEnd, Progress, RunEnd


@dataclass
class Epoch:
    number: int | None
    steps: int | None = None  # size of the training bar
    snaps: list[Progress] = field(default_factory=list)  # training snapshots, in order
    final: Progress | None = None  # end-of-epoch summary
    end: EpochEnd | None = None
    restart: bool = False  # first epoch of a run or resume: includes compilation/tracing
    closed: bool = False  # a later epoch began
    eval_parts: list[float] = field(default_factory=list)  # tqdm eval bars after the training bar
    out_of_data: bool = False  # Keras warned 'Your input ran out of data' during this epoch
    end_ts: float | None = None

    @property
    def complete(self) -> bool:
        return self.final is not None or self.end is not None

    @property
    def step(self) -> int:
        if self.complete and self.steps:
            return self.steps
        return self.snaps[-1].step if self.snaps else 0

    @property
    def last_mid(self) -> Progress | None:
        """The last snapshot before the end-of-epoch summary (Keras' mid-epoch figures)."""
        for p in reversed(self.snaps):
            if not p.final and p.step >= 2:
                return p
        return None

    def duration(self) -> float | None:
        """Wall seconds the whole epoch took (incl. validation), from its own summary; None if unknown."""
        extra = sum(self.eval_parts)
        if self.end is not None and self.end.duration_s is not None:
            return self.end.duration_s + extra
        f = self.final
        if f is None or f.elapsed_s is None:
            return None
        e, n, per = f.elapsed_s, f.step, f.per_step_s
        if f.epoch_s is not None:  # tf.keras >= 2.9 prints the exact epoch time: '- 253ms/epoch'
            return f.epoch_s + extra
        if f.kind == "tqdm":  # tqdm truncates elapsed to whole seconds; its rate is a smoothed recent rate
            return (n * per if e < 10 and per else e + 0.5) + extra
        if per is None:
            return e + extra
        # Keras rounds elapsed to whole seconds; steps × per-step has ~3 digits: use it where the two agree
        # (they do not for an epoch that compiled: step 1 is not in the per-step figure)
        if abs(e - n * per) <= 0.5 + n * f.step_res_s + 0.01 * e and n * f.step_res_s < 0.5:
            return n * per + extra
        return e + extra

    def steady_duration(self) -> float | None:
        """For an epoch that includes compilation: steps × Keras' per-step figure (which leaves step 1 out)."""
        f = self.final
        if f is None or not f.per_step_s or f.kind == "tqdm" or f.step_res_s / f.per_step_s > 0.1:
            return None
        return f.step * f.per_step_s + sum(self.eval_parts)

    def approx_duration(self) -> float | None:
        """For a closed epoch without a summary (cut log): from its last snapshot."""
        p = self.snaps[-1] if self.snaps else None
        if p is None or not p.total:
            return None
        if p.elapsed_s is not None and p.eta_s is not None:
            return p.elapsed_s + p.eta_s
        if p.per_step_s:
            return p.total * p.per_step_s
        return None


@dataclass
class Run:
    epochs: list[Epoch] = field(default_factory=list)
    total_epochs: int | None = None
    kinds: list[str] = field(default_factory=list)
    segments: int = 1
    ended: RunEnd | None = None  # finished or early stopping
    interrupted: RunEnd | None = None
    start_ts: float | None = None
    stamps: list[tuple[float, int]] = field(default_factory=list)  # (POSIX seconds, steps done by then)
    eval_bars: int = 0
    numbered: bool = False  # epoch numbers come from the log
    done_steps: int = 0  # steps of closed epochs
    restart_next: bool = True
    last_line: int = -1

    @property
    def current(self) -> Epoch | None:
        return self.epochs[-1] if self.epochs else None

    @property
    def last_epoch(self) -> Epoch:
        """The current epoch of a run known to have one (every run `build_runs` returns)."""
        if not self.epochs:
            raise ValueError("this run has no epoch yet")
        return self.epochs[-1]

    @property
    def has_training(self) -> bool:
        return any(e.snaps or e.end is not None for e in self.epochs)

    @property
    def finished(self) -> bool:
        cur = self.current
        if self.ended is not None:
            return True
        return bool(cur and cur.complete and self.total_epochs and (cur.number or 0) >= self.total_epochs)

    def steps_done(self) -> int:
        cur = self.current
        return self.done_steps + (cur.step if cur else 0)
