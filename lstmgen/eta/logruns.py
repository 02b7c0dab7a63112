"""Events → runs → epochs: which bars are training epochs, where a run starts again, what each epoch took.

Rules (DESIGN.md §3): the first bar after an epoch header is the training bar; bars of another size, bars that
restart inside a numbered epoch and bars after the last epoch are evaluate()/predict(). Without headers a bar
that restarts at 0 is the next epoch. An epoch number that goes back to 1, or a new epoch total, is a new run;
going back to k > 1 is a resume of the same run (its first epoch compiles again, like a run's first epoch).
"""

from __future__ import annotations

from lstmgen.eta.epochs import Epoch, Run
from lstmgen.eta.logparse import EpochEnd, EpochHeader, Event, Progress, RunEnd, RunStart, Timestamp


def build_runs(events: list[Event]) -> list[Run]:
    """Group events into runs (in file order); runs without any epoch are dropped."""
    b = _Builder()
    for ev in events:
        b.feed(ev)
    for run in b.runs:
        if run.epochs and all(e.number is None for e in run.epochs):
            for i, e in enumerate(run.epochs, 1):
                e.number = i
    return [r for r in b.runs if r.epochs]


class _Builder:
    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.run: Run | None = None
        self.loose: list[float] = []  # stamps since the last training progress: a next run's start-up
        self.eval_key: tuple | None = None
        self.zero_based = False  # tqdm descriptions count epochs from 0 (PyTorch Lightning)

    def feed(self, ev: Event) -> None:
        if isinstance(ev, Progress):
            if ev.epoch is not None and ev.phase == "train":
                num = ev.epoch
                if ev.kind == "tqdm":
                    self.zero_based = self.zero_based or num == 0
                    num += self.zero_based
                self._epoch_number(num, ev.epoch_total)
            self._progress(ev)
        elif isinstance(ev, EpochHeader):
            self._epoch_number(ev.epoch, ev.total, header=True)
        elif isinstance(ev, EpochEnd):
            self._epoch_end(ev)
        elif isinstance(ev, Timestamp):
            run = self.run
            self.loose.append(ev.ts)
            if run is not None and run.has_training:
                run.stamps.append((ev.ts, run.steps_done()))
        elif isinstance(ev, RunStart):
            if ev.resumed and self.run is not None:
                self.run.segments += 1
                cur = self.run.current
                self.run.restart_next = cur is None or cur.complete
                if cur is not None and not cur.complete:  # the interrupted epoch goes on: it compiles again
                    cur.restart = True
                self.run.total_epochs = ev.epochs or self.run.total_epochs
            else:
                run = self._new_run(ev.epochs)
                run.start_ts = ev.timestamp
                run.numbered = True
        elif isinstance(ev, RunEnd):
            if ev.reason == "out_of_data":  # not an end: validation input can run out and training go on
                if self.run is not None and self.run.current is not None:
                    self.run.current.out_of_data = True
            elif self.run is not None and self.run.has_training:
                if ev.reason == "interrupted":
                    self.run.interrupted = ev
                else:
                    self.run.ended = ev

    def _new_run(self, total: int | None = None) -> Run:
        run = Run(total_epochs=total)
        if self.loose:  # start-up stamps (TensorFlow's, say) date the run's beginning
            run.stamps = [(self.loose[0], 0)]
            run.start_ts = self.loose[0]
        self.runs.append(run)
        self.run = run
        return run

    def _open_epoch(self, run: Run, number: int | None) -> Epoch:
        cur = run.current
        if cur is not None:
            cur.closed = True
            run.done_steps += cur.steps or cur.step
        ep = Epoch(number, restart=run.restart_next)
        run.restart_next = False
        run.epochs.append(ep)
        return ep

    def _epoch_number(self, num: int, total: int | None, header: bool = False) -> None:
        run = self.run or self._new_run(total)
        cur = run.current
        if (
            total is not None
            and run.total_epochs not in (None, total)
            and run.has_training
            and (header or cur is None or cur.number is None or num <= cur.number)
        ):  # else: epochs extended
            run = self._new_run(total)
            cur = None
        elif cur is not None and (last := cur.number) is not None:
            if num == last and header and cur.snaps:  # the header again after progress:
                if run.finished or num <= 1:  # another fit()
                    run = self._new_run(total)
                    cur = None
                else:  # a restart of this epoch (crash and resume): the partial epoch is dropped
                    run.segments += 1
                    run.restart_next = True
                    if not cur.complete:
                        run.epochs.pop()
            elif num == last:
                run.total_epochs = total or run.total_epochs
                return
            elif num < last:
                if num <= 1 or run.finished:
                    run = self._new_run(total)
                    cur = None
                else:  # resumed (BackupAndRestore, initial_epoch): same run, compiles again
                    run.segments += 1
                    run.restart_next = True
        elif cur is not None:  # an epoch seen before any number (log starts mid-epoch)
            if not cur.snaps and cur.end is None:
                cur.number = num
                run.numbered = True
                run.total_epochs = total or run.total_epochs
                return
            cur.number = num - 1
        elif run.finished:
            run = self._new_run(total)
        run.numbered = True
        run.total_epochs = total or run.total_epochs
        self._open_epoch(run, num)

    def _progress(self, p: Progress) -> None:
        run = self.run if self.run is not None else self._new_run()
        cur = run.current
        if p.phase == "eval" or run.ended is not None or (cur is not None and run.finished):
            self._eval(run, p, cur)
            return
        if cur is None:
            cur = self._open_epoch(run, None)
        elif cur.snaps:
            last = cur.snaps[-1]
            if p.kind != last.kind or (p.total != cur.steps and not (last.total is None and p.step >= last.step)):
                self._eval(run, p, cur)
                return
            if p.step < last.step:  # the bar restarted
                if run.numbered:
                    self._eval(run, p, cur)
                    return
                cur = self._open_epoch(run, cur.number + 1 if cur.number is not None else None)
        elif cur.complete:  # a bar after an epoch summary line (Keras 1/2 verbose=2 style)
            if run.numbered:
                self._eval(run, p, cur)
                return
            cur = self._open_epoch(run, cur.number + 1 if cur.number is not None else None)
        cur.snaps.append(p)
        if p.total:
            cur.steps = p.total
        if p.final:
            cur.final = p
        if p.kind not in run.kinds:
            run.kinds.append(p.kind)
        run.last_line = p.line
        self.eval_key = None
        self.loose.clear()

    def _eval(self, run: Run, p: Progress, cur: Epoch | None) -> None:
        key = (p.kind, p.desc, p.total)
        same = self.eval_key is not None and self.eval_key[0] == key and p.step >= self.eval_key[1]
        if not same:
            run.eval_bars += 1
        self.eval_key = (key, p.step)
        # tqdm validation bars after the training bar: their time is part of the epoch
        if (
            cur is not None
            and cur.final is not None
            and p.kind == "tqdm"
            and p.elapsed_s is not None
            and not run.finished
        ):
            if same and cur.eval_parts:
                cur.eval_parts[-1] = p.elapsed_s
            else:
                cur.eval_parts.append(p.elapsed_s)

    def _epoch_end(self, ev: EpochEnd) -> None:
        if ev.epoch is not None:
            self._epoch_number(ev.epoch, ev.epoch_total)
        run = self.run if self.run is not None else self._new_run(ev.epoch_total)
        cur = run.current
        if cur is None or (cur.complete and ev.epoch is None):
            cur = self._open_epoch(run, cur.number + 1 if cur is not None and cur.number is not None else None)
        cur.end = ev
        cur.end_ts = ev.timestamp
        if ev.steps:
            cur.steps = cur.steps or ev.steps
        if ev.kind not in run.kinds:
            run.kinds.append(ev.kind)
        run.last_line = ev.line
        self.loose.clear()
