"""Stopping training cleanly: SIGINT/SIGTERM and the time budget, decided the same way on every process of a job.

In a multi-process job every training step is a collective: a process that stopped alone would leave the others
waiting in their next step. So the stop is agreed at step boundaries: each process contributes its local flags
(signal, budget spent) to one tiny all-gather at the same step on every process, and all act on the union.

The all-gather costs a few milliseconds (about 4 ms between two CPU processes on one machine, see
bench/stop_agreement.py), too much for every step of a small model. So it runs about every AGREE_SECONDS of
training: each agreement also gathers every process's time per step since the previous one, and all compute the
same number of steps to the next agreement from the slowest. A stop then takes effect within about AGREE_SECONDS.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from typing import Any

from lstmgen.training.job import Job

AGREE_SECONDS = 0.5  # a multi-process job agrees on the stop about this often
MAX_INTERVAL = 1000  # steps between two agreements at most
REQUEST = 255  # the code of a stop asked for without a signal (e.g. by a test or an embedding program)


def _code(reason: str | None) -> int:
    if reason is None:
        return 0
    try:
        return int(signal.Signals[reason])
    except KeyError:
        return REQUEST


def _name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return "a stop request"


class StopFlag:
    """SIGINT/SIGTERM ask training to stop after the current step; a second SIGINT abandons it at once.

    `reason` is this process's own request (a signal name); `agree` turns the requests and budgets of all processes
    into one decision."""

    def __init__(self, job: Job | None = None):
        self.reason: str | None = None
        self.job = job or Job()
        self._old: dict[int, Any] = {}  # signal → the handler it had (signal.signal's return: callable, int or None)
        # the agreement schedule of a multi-process job
        self._countdown, self._calls = 0, 0
        self._since: float | None = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.reason is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def agree(self, budget_spent: bool, now: bool = False) -> str | None:
        """ "signal", "budget" or None: the same answer on every process of the job, which must all make the same
        calls (one per step boundary, `now=True` at the same points, e.g. each epoch end). Between agreements a
        process keeps its own request for the next one; alone, no collective: just the local flags.

        A process that got no signal itself takes the first one's ("SIGTERM on process 1") as its `reason`."""
        if self.job.processes == 1:
            return "signal" if self.reason is not None else "budget" if budget_spent else None
        self._calls += 1
        self._countdown -= 1
        if self._countdown > 0 and not now:
            return None
        clock = time.monotonic()
        per_call = (clock - self._since) / self._calls if self._since is not None else 0.0
        rows = self.job.gather([_code(self.reason), int(budget_spent), round(per_call * 1e6)])
        slowest = max(row[2] for row in rows) / 1e6
        self._countdown = min(max(math.floor(AGREE_SECONDS / slowest), 1), MAX_INTERVAL) if slowest else 1
        self._since, self._calls = time.monotonic(), 0
        if self.reason is None:
            first = next(((i, row[0]) for i, row in enumerate(rows) if row[0]), None)
            if first is not None:
                self.reason = f"{_name(first[1])} on process {first[0]}"
        if self.reason is not None:
            return "signal"
        return "budget" if any(row[1] for row in rows) else None
