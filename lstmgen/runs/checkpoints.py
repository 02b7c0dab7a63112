"""The committed checkpoints of a run's checkpoints/ folder, read from their .json files alone (no TensorFlow).

A checkpoint is ckpt-<global step, 9 digits>.keras plus its .json; the .json is written last and commits it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lstmgen.runs.state import DamagedState, TrainState

CKPT_RE = re.compile(r"^ckpt-(\d{9})\.json$")


def scan_checkpoints(ckpt_dir: Path) -> tuple[list[tuple[Path, TrainState]], list[tuple[Path, str]]]:
    """(usable, damaged): committed checkpoints whose state loads (`TrainState.from_json`), newest first, as
    (model path, state); and those whose .json is unreadable or damaged, as (.json path, why), newest first.
    A checkpoint of a newer schema raises its RunError.

    Example: `usable, damaged = scan_checkpoints(Path("runs/x/checkpoints"))`.
    """
    found: list[tuple[Path, TrainState]] = []
    damaged: list[tuple[Path, str]] = []
    if not ckpt_dir.is_dir():
        return found, damaged
    for p in ckpt_dir.iterdir():
        m = CKPT_RE.match(p.name)
        model = p.with_suffix(".keras")
        if not m or not model.is_file():  # a .json without its .keras is an uncommitted half (clean_temps)
            continue
        try:
            state = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:  # pruned by the run's trainer since it was listed: gone, not damaged
            continue
        except (OSError, ValueError) as e:
            damaged.append((p, f"unreadable ({e.__class__.__name__})"))
            continue
        try:
            found.append((model, TrainState.from_json(state, int(m.group(1)))))
        except DamagedState as e:
            damaged.append((p, str(e)))
    found.sort(key=lambda item: item[1].global_step, reverse=True)
    damaged.sort(key=lambda item: item[0].name, reverse=True)
    return found, damaged
