"""A run directory that cannot be written, or whose checkpoints/ vanished: one clear line instead of a traceback or a
silent restart from step 0. No TensorFlow."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from pathlib import Path

from lstmgen.errors import RunError
from lstmgen.runs.rundir import RunDir
from lstmgen.util.atomic import TMP_MARK


def _inside(run: RunDir, name) -> bool:
    if not name:
        return False
    try:
        return Path(os.path.abspath(os.fsdecode(name))).is_relative_to(Path(os.path.abspath(run.path)))
    except (TypeError, ValueError):
        return False


def write_failure(run: RunDir, e: OSError) -> RunError:
    name = os.path.relpath(os.fsdecode(e.filename), run.path) if e.filename else "?"
    return RunError(
        f"cannot write to run directory '{run.path}' ({name}: {e.strerror or e}); free space or make it "
        "writable, then run the same command again (checkpoints already saved are intact)"
    )


@contextlib.contextmanager
def writes(run: RunDir):
    """Around code that writes into `run`: an OSError on one of its files becomes one line (exit 1); others pass."""
    try:
        yield
    except OSError as e:
        if _inside(run, e.filename) or _inside(run, e.filename2):
            raise write_failure(run, e) from None
        raise


def check_writable(run: RunDir) -> None:
    """Create and remove a temporary file in the run directory and in checkpoints/ (made again if it is missing):
    a read-only or unusable directory fails here, before anything is changed or an epoch is trained in vain."""
    for folder in (run.path, run.ckpt_dir):
        try:
            if folder == run.ckpt_dir:
                folder.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=TMP_MARK + "probe-", dir=folder)
            os.close(fd)
            os.unlink(tmp)
        except OSError as e:
            if not e.filename:
                e.filename = str(folder)
            raise write_failure(run, e) from None


def trained_epochs(run: RunDir) -> int:
    """Epoch rows in metrics.csv (0 if there is none)."""
    try:
        with open(run.path / "metrics.csv", newline="", encoding="utf-8") as f:
            return sum(1 for row in csv.DictReader(f) if (row.get("epoch") or "").strip())
    except (OSError, ValueError, csv.Error):
        return 0


def check_checkpoints_present(run: RunDir) -> None:
    """Refuse to restart from step 0 a run that had saved progress (metrics rows, latest.keras) but whose
    checkpoints/ is gone or empty: training over it would silently throw that progress away."""
    usable, damaged = run.scan_checkpoints()
    if usable or damaged:
        return
    epochs = trained_epochs(run)
    latest = (run.path / "latest.keras").is_file()
    if not epochs and not latest:
        return
    has = (
        f"has trained {epochs} epoch{'s' if epochs != 1 else ''} (metrics.csv)"
        if epochs
        else "has saved a checkpoint (latest.keras)"
    )
    what = "folder is gone" if not run.ckpt_dir.is_dir() else "folder is empty"
    raise RunError(
        f"run '{run.path}' {has} but its checkpoints/ {what}, so it cannot resume where it stopped; "
        "restore checkpoints/ from a backup, or start a new run with -o NEW_DIR (latest.keras holds the "
        "newest weights for generate and eval)"
    )
