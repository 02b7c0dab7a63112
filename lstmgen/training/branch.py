"""`lstmgen train RUN -o NEW`: continue RUN under a new name. NEW gets copies of what resuming needs; RUN is only read.

NEW is marked as lstmgen's first (RunDir.begin) and locked, then gets the vocabulary, the newest readable checkpoint
and the best one (with latest.keras/best.keras linked to them), metrics.csv and train.log, the new config.yaml, and
run.json last, recording `branched_from`. A branch killed halfway is an aborted creation: the same command starts it
over. RUN may be training meanwhile: a checkpoint pruned while it is copied is skipped for an older one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from pathlib import Path

from lstmgen.errors import RunError
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.runfiles import now_iso
from lstmgen.runs.state import TrainState
from lstmgen.util import atomic

COPIED = ("vocab.json", "metrics.csv", "train.log")


def same_path(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def _copy(src: Path, dst: Path) -> None:
    with atomic.atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _copy_checkpoint(model: Path, dst: RunDir) -> Path:
    """Copy a committed checkpoint (.keras, then its .json, which commits it); FileNotFoundError if it was pruned."""
    target = dst.ckpt_dir / model.name
    if not target.with_suffix(".json").exists():
        _copy(model, target)
        _copy(model.with_suffix(".json"), target.with_suffix(".json"))
    return target


def _copy_checkpoints(src: RunDir, dst: RunDir) -> TrainState | None:
    """The newest readable checkpoint and the best one; returns the newest's state (None: no checkpoint yet)."""
    best_link = src.path / "best.keras"
    newest = None
    for model, state in src.checkpoints():
        with contextlib.suppress(FileNotFoundError):  # pruned by a trainer of src since it was listed
            if newest is None and zipfile.is_zipfile(model):
                RunDir.link(_copy_checkpoint(model, dst), dst.path / "latest.keras")
                newest = state
            if best_link.exists() and os.path.samefile(model, best_link):
                RunDir.link(_copy_checkpoint(model, dst), dst.path / "best.keras")
    if newest is not None and not (dst.path / "best.keras").exists():
        with contextlib.suppress(FileNotFoundError):
            _copy(best_link, dst.path / "best.keras")  # best.keras was a copy, not a link (no hard links there)
    return newest


def start_branch(src: RunDir, dst: RunDir, info: dict, config_text: str, lock: bool = True) -> None:
    """Make `dst` a copy of `src` to continue under a new name (dst must be new or empty: see RunDir.check_new)."""
    if dst.path.resolve().is_relative_to(src.path.resolve()):
        raise RunError(
            f"'{dst.path}' is inside the run '{src.path}', which a branch leaves unchanged; choose a "
            "folder outside it with -o"
        )
    dst.check_new()
    dst.claim(lock)
    try:
        dst.ckpt_dir.mkdir(exist_ok=True)
        for name in COPIED:
            with contextlib.suppress(FileNotFoundError):
                _copy(src.path / name, dst.path / name)
        newest = _copy_checkpoints(src, dst)
        for _ in range(2):  # every listed checkpoint was pruned by a trainer of src meanwhile: list again
            if newest is not None or not src.checkpoints():
                break
            newest = _copy_checkpoints(src, dst)
        atomic.write_text(dst.path / "config.yaml", config_text)
        kept = {k: v for k, v in info.items() if k not in ("format", "version", "created", "branched_from")}
        newest = newest or TrainState()
        origin = {
            "run": str(src.path.resolve()),
            "global_step": newest.global_step,
            "epoch": newest.epoch,
            "step": newest.step,
            "time": now_iso(),
        }
        dst.create({**kept, "branched_from": origin})  # run.json last: the branch exists
    except OSError as e:
        dst.release_lock()
        raise RunError(
            f"cannot branch '{src.path}' into '{dst.path}': {e.strerror or e}; free space or fix "
            f"permissions, then run the same command again ('{src.path}' is unchanged)"
        ) from None
    except BaseException:
        dst.release_lock()
        raise
