"""The training state: what the trainer updates step by step and what a checkpoint's .json holds (no TensorFlow).

`TrainState.to_json()` is the checkpoint schema; `TrainState.from_json(obj, global_step)` is the one place its
fields and types are checked. A state that fails is damaged (`DamagedState`): `RunDir.checkpoints()` leaves it out
(resume falls back to an older checkpoint, `info` and `runs` list it as damaged), so no reader has to guard against
a wrong type. A state written by a newer lstmgen (a higher "schema") is refused with a RunError: falling back past it
would train over progress this version cannot read.

Schema 1 (lstmgen 0.1.0) had no "schema" field; schema 2 adds it and is otherwise the same, so both load.

    >>> st = TrainState(epoch=1, global_step=4, seed=1)
    >>> TrainState.from_json(st.to_json(), 4).epoch
    1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from lstmgen.errors import RunError

FORMAT = "lstmgen-checkpoint"
SCHEMA = 2  # written into every checkpoint .json; files without the field are schema 1


class DamagedState(ValueError):
    """A checkpoint state that cannot be used; the message says why (e.g. '"epoch" is missing')."""


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _number_or_none(v) -> bool:
    return v is None or _number(v)


REQUIRED = {
    "epoch": (_int, "a whole number ≥ 0"),
    "step": (_int, "a whole number ≥ 0"),
    "global_step": (_int, "a whole number ≥ 0"),
    "history": (lambda v: isinstance(v, list), "a list"),
}
OPTIONAL = {
    "train_seconds": (_number, "a number"),
    "wall_seconds": (_number, "a number"),
    "epoch_loss_sum": (_number, "a number"),
    "epoch_loss_steps": (_int, "a whole number ≥ 0"),
    "epoch_elapsed": (_number, "a number"),
    "best_val_loss": (_number_or_none, "a number or null"),
    "best_epoch": (lambda v: v is None or _int(v), "a whole number or null"),
    "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "config": (lambda v: isinstance(v, dict), "an object"),
    "seed_states": (lambda v: v is None or isinstance(v, list), "a list"),
    "carried_state": (lambda v: v is None or isinstance(v, dict), "an object"),
    "status": (lambda v: isinstance(v, str), "a string"),
    "time": (lambda v: v is None or isinstance(v, str), "a string"),
    "lstmgen_version": (lambda v: v is None or isinstance(v, str), "a string"),
}
ROW = {"epoch": (_int, "a whole number ≥ 0"), "global_step": (_int, "a whole number ≥ 0")}
ROW_OPTIONAL = dict.fromkeys(
    ("loss", "val_loss", "val_bpc", "learning_rate", "train_seconds", "wall_seconds", "epoch_seconds"),
    (_number_or_none, "a number or null"),
)
FLOATS = ("train_seconds", "wall_seconds", "epoch_loss_sum", "epoch_elapsed")


def problem(obj: Any, global_step: int) -> str | None:
    """Why `obj` (a parsed ckpt-<global_step>.json) cannot be used, or None if it can (a newer schema raises)."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    schema = obj.get("schema", 1)
    if not _int(schema) or schema < 1:
        return '"schema" is not a whole number ≥ 1'
    if schema > SCHEMA:
        raise RunError(
            f"checkpoint ckpt-{global_step:09d}.json was written by a newer lstmgen (checkpoint schema "
            f"{schema}; this lstmgen reads up to {SCHEMA}); upgrade lstmgen to use this run"
        )
    for key, (ok, what) in REQUIRED.items():
        if key not in obj:
            return f'"{key}" is missing'
        if not ok(obj[key]):
            return f'"{key}" is not {what}'
    for key, (ok, what) in OPTIONAL.items():
        if key in obj and not ok(obj[key]):
            return f'"{key}" is not {what}'
    for i, row in enumerate(obj["history"]):
        if not isinstance(row, dict):
            return f"history row {i + 1} is not an object"
        for key, (ok, what) in ROW.items():
            if not ok(row.get(key)):
                return f'history row {i + 1}: "{key}" is missing or not {what}'
        for key, (ok, what) in ROW_OPTIONAL.items():
            if key in row and not ok(row[key]):
                return f'history row {i + 1}: "{key}" is not {what}'
    if obj["global_step"] != global_step:
        return f"its global_step {obj['global_step']} is not the {global_step} in its name"
    return None


@dataclass
class TrainState:
    """Where a run's training stands. The first block is what the trainer advances (and resume restores); the
    second is what a checkpoint records about itself. `history` rows are the metrics.csv rows (plain dicts: epoch,
    global_step, train/wall/epoch seconds, loss, val_loss, val_bpc, learning_rate, time)."""

    epoch: int = 0  # epochs completed; the one in progress is epoch + 1
    step: int = 0  # steps done in the epoch in progress
    global_step: int = 0
    train_seconds: float = 0.0
    wall_seconds: float = 0.0
    epoch_loss_sum: float = 0.0  # the epoch in progress: its loss so far (a resumed epoch continues its mean)
    epoch_loss_steps: int = 0
    epoch_elapsed: float = 0.0
    best_val_loss: float | None = None
    best_epoch: int | None = None
    history: list[dict] = field(default_factory=list)
    seed: int | None = None
    # recorded by each checkpoint
    status: str | None = None  # running | interrupted | time budget reached
    config: dict = field(default_factory=dict)  # the resolved config it was trained with
    seed_states: list | None = None  # the model's dropout seed generators
    carried_state: dict | None = None  # stateful training: the LSTM state the next batch starts from
    time: str | None = None
    lstmgen_version: str | None = None

    def to_json(self) -> dict:
        """The checkpoint .json object (schema SCHEMA), keys in the order earlier versions wrote them."""
        return {
            "format": FORMAT,
            "schema": SCHEMA,
            "lstmgen_version": self.lstmgen_version,
            "time": self.time,
            "status": self.status,
            "epoch": self.epoch,
            "step": self.step,
            "global_step": self.global_step,
            "train_seconds": self.train_seconds,
            "wall_seconds": self.wall_seconds,
            "epoch_loss_sum": self.epoch_loss_sum,
            "epoch_loss_steps": self.epoch_loss_steps,
            "epoch_elapsed": self.epoch_elapsed,
            "best_val_loss": self.best_val_loss,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "seed": self.seed,
            "config": self.config,
            "seed_states": self.seed_states,
        } | ({"carried_state": self.carried_state} if self.carried_state is not None else {})

    @classmethod
    def from_json(cls, obj: Any, global_step: int) -> TrainState:
        """The state in a parsed ckpt-<global_step>.json; DamagedState says why it cannot be used, RunError that it
        is of a newer schema. Fields an older file lacks take their defaults."""
        why = problem(obj, global_step)
        if why:
            raise DamagedState(why)
        values = {k: obj[k] for k in (*REQUIRED, *OPTIONAL) if k in obj}
        for k in FLOATS:
            if k in values:
                values[k] = float(values[k])
        return cls(**values)
