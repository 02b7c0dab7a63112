"""What `estimate --log` and the ETA callback report: the `Estimate` record and its JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from lstmgen.eta.interval import INTERVAL

MAX_JSON_ROWS = 200


@dataclass
class EpochEta:
    epoch: int
    ends_at: datetime
    remaining_s: float


@dataclass
class Estimate:
    """Everything the report and `--json` show. Times are naive local datetimes; durations in seconds.

    >>> est = lstmgen.estimate_log("fit.log")                       # doctest: +SKIP
    >>> est.epoch, est.epochs, est.run_end, est.interval            # doctest: +SKIP
    (7, 20, datetime.datetime(2026, 12, 1, 14, 2, 11), 0.8)
    """

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
    interval: float = INTERVAL  # run_end_low–run_end_high is meant to hold the true end this often
    run: int | None = None  # which run of the file (1-based) this is
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
