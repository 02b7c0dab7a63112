"""What a checkpoint's .json must hold to be used: the one place its fields and types are checked (no TensorFlow).

A state that fails is damaged: `RunDir.checkpoints()` leaves it out (resume falls back to an older checkpoint,
`info` and `runs` list it as damaged), so no reader has to guard against a wrong type.
"""

from __future__ import annotations

from numbers import Real


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _number_or_none(v) -> bool:
    return v is None or _number(v)


REQUIRED = {"epoch": (_int, "a whole number ≥ 0"), "step": (_int, "a whole number ≥ 0"),
            "global_step": (_int, "a whole number ≥ 0"), "history": (lambda v: isinstance(v, list), "a list")}
OPTIONAL = {"train_seconds": (_number, "a number"), "wall_seconds": (_number, "a number"),
            "epoch_loss_sum": (_number, "a number"), "epoch_loss_steps": (_int, "a whole number ≥ 0"),
            "epoch_elapsed": (_number, "a number"), "best_val_loss": (_number_or_none, "a number or null"),
            "best_epoch": (lambda v: v is None or _int(v), "a whole number or null"),
            "seed": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
            "config": (lambda v: isinstance(v, dict), "an object"),
            "seed_states": (lambda v: v is None or isinstance(v, list), "a list"),
            "status": (lambda v: isinstance(v, str), "a string")}
ROW = {"epoch": (_int, "a whole number ≥ 0"), "global_step": (_int, "a whole number ≥ 0")}
ROW_OPTIONAL = {k: (_number_or_none, "a number or null") for k in ("loss", "val_loss", "val_bpc", "learning_rate",
                                                                     "train_seconds", "wall_seconds", "epoch_seconds")}


def problem(state, global_step: int) -> str | None:
    """Why `state` (a parsed ckpt-<global_step>.json) cannot be used, or None if it can."""
    if not isinstance(state, dict):
        return "not a JSON object"
    for key, (ok, what) in REQUIRED.items():
        if key not in state:
            return f'"{key}" is missing'
        if not ok(state[key]):
            return f'"{key}" is not {what}'
    for key, (ok, what) in OPTIONAL.items():
        if key in state and not ok(state[key]):
            return f'"{key}" is not {what}'
    for i, row in enumerate(state["history"]):
        if not isinstance(row, dict):
            return f"history row {i + 1} is not an object"
        for key, (ok, what) in ROW.items():
            if not ok(row.get(key)):
                return f'history row {i + 1}: "{key}" is missing or not {what}'
        for key, (ok, what) in ROW_OPTIONAL.items():
            if key in row and not ok(row[key]):
                return f'history row {i + 1}: "{key}" is not {what}'
    if state["global_step"] != global_step:
        return f"its global_step {state['global_step']} is not the {global_step} in its name"
    return None
