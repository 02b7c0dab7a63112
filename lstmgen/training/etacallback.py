"""`EtaCallback`: the `estimate --log` forecast live inside any `keras.Model.fit` (every backend).

    >>> import keras, lstmgen                                      # doctest: +SKIP
    >>> eta = lstmgen.EtaCallback()                                # doctest: +SKIP
    >>> model.fit(x, y, epochs=20, callbacks=[eta])                # doctest: +SKIP
    ETA: run ends 14:02:11 (80% range 13:58:40–14:05:30), 0:41:07 left
    >>> eta.run_end, eta.run_end_low, eta.run_end_high, eta.remaining_s   # doctest: +SKIP

Keras is imported here only; `import lstmgen` stays light.
"""

from __future__ import annotations

import time

import keras

from lstmgen.eta.record import Estimate
from lstmgen.eta.track import EtaTracker, eta_line


class EtaCallback(keras.callbacks.Callback):
    """Predicts the end of the epoch and of the run at each epoch end (and every `every_steps` steps).

    The line goes to `print_fn` (default `print`; None: silent), or to `bar.set_postfix_str` when a tqdm bar is
    given. The latest forecast is in `.estimate` (an `lstmgen.eta.record.Estimate`) and in `.run_end`,
    `.run_end_low`, `.run_end_high` (datetimes: an 80 % range), `.epoch_end` and `.remaining_s`.

    >>> eta = lstmgen.EtaCallback()                                 # doctest: +SKIP
    >>> model.fit(x, y, epochs=20, callbacks=[eta])                 # doctest: +SKIP
    ETA: run ends 14:02:11 (80% range 13:58:40–14:05:30), 0:41:07 left
    >>> eta.run_end                                                 # doctest: +SKIP
    """

    def __init__(self, every_steps: int = 0, print_fn=print, bar=None):
        super().__init__()
        if every_steps < 0:
            raise ValueError(f"every_steps must be 0 (epoch ends only) or more, not {every_steps}")
        self.every_steps, self.print_fn, self.bar = every_steps, print_fn, bar
        if every_steps:
            # Only then a per-step hook: Keras 3 dispatches batch callbacks asynchronously (no per-step sync of
            # the logs) as long as no callback overrides on_train_batch_end, so epoch-ends-only must not.
            self.on_train_batch_end = self._train_batch_end
        self.tracker = EtaTracker()
        self.estimate: Estimate | None = None
        self._epoch, self._t0, self._offset = 0, 0.0, 0

    def on_train_begin(self, logs=None):
        self.tracker = EtaTracker()
        self._epochs = int(self.params.get("epochs") or 1)
        self._steps = self.params.get("steps")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._t0 = epoch + 1, time.time()
        self.tracker.epoch_begin(self._epoch, self._epochs)

    def _train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every_steps == 0:
            now = time.time()
            self.tracker.step(self._epoch, self._epochs, batch + 1, self._steps, now - self._t0, now)
            self._report(now)

    def on_epoch_end(self, epoch, logs=None):
        now = time.time()
        self.tracker.epoch_end(epoch + 1, self._epochs, now - self._t0, self._steps, now)
        self._report(now)

    def _report(self, now: float) -> None:
        self.estimate = self.tracker.forecast(now)
        line = eta_line(self.estimate)
        if self.bar is not None:
            self.bar.set_postfix_str(line, refresh=False)
        elif self.print_fn is not None:
            self.print_fn(line)

    @property
    def run_end(self):
        return self.estimate.run_end if self.estimate else None

    @property
    def run_end_low(self):
        return self.estimate.run_end_low if self.estimate else None

    @property
    def run_end_high(self):
        return self.estimate.run_end_high if self.estimate else None

    @property
    def remaining_s(self):
        return self.estimate.remaining_s if self.estimate else None

    @property
    def epoch_end(self):
        """When the current epoch ends (None at an epoch's end: it has)."""
        est = self.estimate
        if est and est.epoch_ends and est.epoch_ends[0].epoch == est.epoch and not est.finished:
            return est.epoch_ends[0].ends_at
        return None
