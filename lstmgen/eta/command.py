"""`lstmgen estimate --log FILE`: the command's entry point (report or JSON, once or --follow)."""

from __future__ import annotations

import sys

from lstmgen.errors import LogError
from lstmgen.eta import follow as etafollow
from lstmgen.eta.report import format_report
from lstmgen.eta.timeparse import parse_time


def estimate_log_command(
    log: str,
    started: str | None,
    now: str | None,
    epochs: int | None,
    follow: bool,
    as_json: bool,
    out=None,
    *,
    poll_s: float = 2.0,
    sleep=None,
    run: int | None = None,
) -> int:
    """`lstmgen estimate --log FILE`: print the report (or JSON); return the exit code. Errors → LogError.

    `out` defaults to the sys.stdout of the moment of the call (so click's CliRunner captures it).
    """
    out = out if out is not None else sys.stdout
    if epochs is not None and epochs < 1:
        raise LogError(f"--epochs must be at least 1 (got {epochs})")
    if run is not None and run < 1:
        raise LogError(f"--run must be at least 1 (got {run}); runs are counted from 1 in file order")
    if now is not None:
        parse_time(now)  # a bad --now fails before any reading
    if follow:
        return etafollow.follow(log, started, now, epochs, as_json, out, poll_s=poll_s, sleep=sleep, run=run)
    est = etafollow.estimate_file(log, started, now, epochs, run=run)
    out.write((est.to_json() if as_json else format_report(est)) + "\n")
    out.flush()
    return 0
