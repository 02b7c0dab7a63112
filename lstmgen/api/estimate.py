"""`lstmgen.estimate_log`: when will the training run a log describes finish? (Standard library only.)"""

from __future__ import annotations

import os
from datetime import datetime

from lstmgen.eta.record import Estimate


def estimate_log(
    log: str | os.PathLike,
    *,
    epochs: int | None = None,
    started: str | datetime | None = None,
    now: str | datetime | None = None,
    run: int | None = None,
) -> Estimate:
    """The `lstmgen estimate --log` answer for a Keras 1-3, tqdm or lstmgen log file, as an `Estimate`.

    `epochs` overrides the log's total, `started` says when training began (e.g. "10:40"), `now` the time to
    estimate at (default: the log's last write), `run` which of several runs in the file (1 = first).
    Raises `lstmgen.LogError` for a log that cannot be read.

    >>> est = lstmgen.estimate_log("fit.log", epochs=20)     # doctest: +SKIP
    >>> est.run_end, est.run_end_low, est.run_end_high       # doctest: +SKIP
    """
    from lstmgen.eta.follow import estimate_file
    from lstmgen.util.limits import EPOCHS, check_range

    if epochs is not None:
        check_range("epochs", epochs, *EPOCHS)
    return estimate_file(os.fspath(log), started, now, epochs, run)
