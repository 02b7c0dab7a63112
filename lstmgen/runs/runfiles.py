"""What marks a folder as an lstmgen run, and reading its JSON/YAML files and stats as RunErrors (no TensorFlow)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import yaml

from lstmgen.errors import RunError

RUN_FORMAT = "lstmgen-run"
MARKER_NAME = ".lstmgen-run"


def now_iso() -> str:
    """The local time with its UTC offset, to the second, as run files record it."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def has_run_format(path: Path) -> bool:
    """True if `path` holds a JSON object whose format is lstmgen's run format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == RUN_FORMAT


def is_run_dir(path: str | os.PathLike) -> bool:
    """An lstmgen run: run.json says so, or (a damaged run.json) lstmgen's marker does. A user's run.json is not."""
    path = Path(path)
    return (path / "run.json").is_file() and (has_run_format(path / "run.json") or has_run_format(path / MARKER_NAME))


def stat_or_none(path: str | os.PathLike) -> os.stat_result | None:
    """os.stat of `path`, or None if it is gone (a trainer may prune a checkpoint at any moment)."""
    try:
        return os.stat(path)
    except OSError:
        return None


def read_mapping(path: Path, what: str, fix: str = "", loads=json.loads) -> dict:
    """A JSON object from `path` (a YAML mapping with loads=yaml.safe_load); anything else is a RunError."""
    hint = f"; {fix}" if fix else ""
    try:
        data = loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{what} '{path}' is missing{hint}") from None
    except (OSError, ValueError, yaml.YAMLError) as e:  # ValueError: JSON and UTF-8 decoding errors
        raise RunError(f"{what} '{path}' is unreadable or corrupt ({e.__class__.__name__}){hint}") from None
    if not isinstance(data, dict):
        raise RunError(
            f"{what} '{path}' is corrupt (not a {'JSON object' if loads is json.loads else 'mapping'}){hint}"
        )
    return data
