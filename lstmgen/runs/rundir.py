"""A run directory on disk: config, vocabulary, checkpoints, metrics and the plain-text training log. No TensorFlow.

Layout:
    config.yaml          resolved config the run was trained with
    vocab.json           the vocabulary (ids ↔ characters)
    .lstmgen-run         marker written first by `create`: the folder is lstmgen's (a half-made run can start over)
    run.json             identity: format version, data it was trained on, model shape (written last: the run exists)
    checkpoints/ckpt-<global step>.keras + .json   the .json is written last: it commits the checkpoint
    latest.keras, best.keras                       hard links to the newest and the best-by-validation checkpoint
    metrics.csv, train.log
    loss.png, samples.txt, tensorboard/             loss curves, per-epoch samples, TensorBoard event files
    .lock                flock'ed by the process training the run; holds its pid, host and start (see runlock.py)
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from datetime import datetime
from pathlib import Path

import yaml

from lstmgen import FORMAT_VERSION
from lstmgen.config import Config
from lstmgen.errors import LstmgenError, RunError
from lstmgen.runs.checkpoints import scan_checkpoints
from lstmgen.runs.runfiles import MARKER_NAME, RUN_FORMAT, has_run_format, is_run_dir, now_iso, read_mapping
from lstmgen.runs.runlock import RunLock, is_training
from lstmgen.runs.state import TrainState
from lstmgen.util import atomic

METRIC_FIELDS = [
    "epoch",
    "global_step",
    "train_seconds",
    "wall_seconds",
    "epoch_seconds",
    "loss",
    "val_loss",
    "val_bpc",
    "val_loss_stateful",
    "learning_rate",
    "time",
]
DEFAULT_RUNS = Path("runs")
LOCK_NAME = ".lock"
# What create() (or a branch) writes before run.json: a folder with the marker and only these can start over.
OWN_FILES = {
    MARKER_NAME,
    LOCK_NAME,
    "config.yaml",
    "vocab.json",
    "metrics.csv",
    "train.log",
    "latest.keras",
    "best.keras",
    "checkpoints",
}


def refuse_foreign_run_json(path: str | os.PathLike) -> None:
    """A folder whose run.json is damaged or not an lstmgen run's: raise the RunError that says which."""
    if (Path(path) / "run.json").is_file() and not is_run_dir(path):
        RunDir(path).info()


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.ckpt_dir = self.path / "checkpoints"
        self._lock = RunLock(self.path / LOCK_NAME, f"run '{self.path}'")

    # --- identity -------------------------------------------------------------------------------------
    def begin(self) -> None:
        """Make the directory and write lstmgen's marker in it before anything else (see aborted_creation)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunError(f"cannot create run directory '{self.path}': {e.strerror}; choose another with -o") from None
        if not os.access(self.path, os.W_OK):
            raise RunError(f"run directory '{self.path}' is not writable; choose another with -o")
        if not has_run_format(self.path / MARKER_NAME):
            atomic.write_json(self.path / MARKER_NAME, {"format": RUN_FORMAT, "version": FORMAT_VERSION})

    def create(self, info: dict, files: dict[str, str] | None = None) -> None:
        """Mark the directory, write `files` (name → text), then run.json last: it marks the run as complete."""
        self.begin()
        try:
            self.ckpt_dir.mkdir(exist_ok=True)
        except OSError as e:
            raise RunError(f"cannot create run directory '{self.path}': {e.strerror}; choose another with -o") from None
        for name, text in (files or {}).items():
            atomic.write_text(self.path / name, text)
        atomic.write_json(
            self.path / "run.json", {"format": RUN_FORMAT, "version": FORMAT_VERSION, "created": now_iso(), **info}
        )

    def read_config(self) -> dict:
        """The run's config.yaml as saved; missing, unreadable or not a mapping is a RunError."""
        return read_mapping(
            self.path / "config.yaml",
            "run config",
            loads=yaml.safe_load,
            fix="restore it (each checkpoint's .json keeps the run's settings under \"config\") or "
            "start a new run with -o NEW_DIR",
        )

    def saved_config(self) -> dict:
        """The run's config.yaml over the defaults, for reports (a missing or broken file gives the defaults)."""
        try:
            saved = self.read_config()
        except LstmgenError:
            saved = {}
        return {**Config().resolved(), **saved}

    def info(self) -> dict:
        info = read_mapping(self.path / "run.json", "run file")
        if info.get("format") != RUN_FORMAT:
            raise RunError(f"'{self.path}' is not an lstmgen run directory (run.json has another format)")
        if info.get("version") != FORMAT_VERSION:
            raise RunError(
                f"run directory '{self.path}' was written by an incompatible lstmgen "
                f"(format version {info.get('version')}, this lstmgen reads {FORMAT_VERSION}); "
                "retrain it or use the matching lstmgen version"
            )
        return info

    # --- checkpoints ----------------------------------------------------------------------------------
    def checkpoint_path(self, global_step: int) -> Path:
        return self.ckpt_dir / f"ckpt-{global_step:09d}.keras"

    def checkpoints(self) -> list[tuple[Path, TrainState]]:
        """Committed, usable checkpoints, newest first, as (model path, state) pairs (see `scan_checkpoints`)."""
        return self.scan_checkpoints()[0]

    def scan_checkpoints(self) -> tuple[list[tuple[Path, TrainState]], list[tuple[Path, str]]]:
        """(usable, damaged) checkpoints of this run, newest first (see `checkpoints.scan_checkpoints`)."""
        return scan_checkpoints(self.ckpt_dir)

    def commit_checkpoint(self, state: TrainState, keep: int, best: bool) -> None:
        """Commit the checkpoint of `state` (its .keras file, at checkpoint_path(state.global_step), is already in
        place): write its .json, update the links, prune old ones."""
        model = self.checkpoint_path(state.global_step)
        atomic.write_json(model.with_suffix(".json"), state.to_json())
        self.link(model, self.path / "latest.keras")
        if best:
            self.link(model, self.path / "best.keras")
        best_target = self.path / "best.keras"
        for old_model, _old_state in self.checkpoints()[keep:]:
            if best_target.exists() and old_model.exists() and os.path.samefile(old_model, best_target):
                continue  # best.keras is a hard link, but keep its checkpoint listed for resume fallbacks
            for p in (old_model.with_suffix(".json"), old_model):
                with contextlib.suppress(OSError):
                    p.unlink()

    @staticmethod
    def link(src: Path, dst: Path) -> None:
        with atomic.atomic_path(dst) as tmp:
            try:
                os.link(src, tmp)
            except OSError:  # filesystems without hard links
                with open(src, "rb") as fi, open(tmp, "wb") as fo:
                    while chunk := fi.read(1 << 20):
                        fo.write(chunk)

    def aborted_creation(self) -> bool:
        """True if a killed `create` (or branch) left only its own files behind (no run.json yet): safe to start
        over. Only lstmgen's marker makes them its own: a config.yaml or vocab.json of the user's never is."""
        if not self.path.is_dir() or (self.path / "run.json").exists() or not has_run_format(self.path / MARKER_NAME):
            return False
        ours = all(p.name in OWN_FILES or p.name.startswith(atomic.TMP_MARK) for p in self.path.iterdir())
        return ours and (
            not self.ckpt_dir.is_dir()
            or all(p.name.startswith(("ckpt-", atomic.TMP_MARK)) and p.is_file() for p in self.ckpt_dir.iterdir())
        )

    def check_new(self) -> None:
        """Refuse to make a new run here unless the folder is absent, empty, or an aborted creation."""
        p = self.path
        if not p.exists() or (p.is_dir() and not any(p.iterdir())) or self.aborted_creation():
            return
        if not p.is_dir():
            raise RunError(f"'{p}' is a file, not a run directory; choose another with -o")
        if is_run_dir(p):
            raise RunError(
                f"'{p}' is already an lstmgen run; continue it with 'lstmgen train {p}', or choose a new "
                "or empty folder with -o"
            )
        names = sorted(e.name for e in p.iterdir())
        shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        raise RunError(f"'{p}' holds files and is not an lstmgen run ({shown}); choose a new or empty folder with -o")

    def claim(self, lock: bool = True) -> None:
        """Make a new run here: mark the folder, take its lock (if `lock`), clear an aborted creation. Call
        check_new() first; on success the caller holds the lock and writes the run."""
        self.begin()
        if lock:
            self.acquire_lock()
        if not self.aborted_creation():  # with the marker written: only lstmgen's own files, no run.json
            self.release_lock()
            raise RunError(f"'{self.path}' was just written by another lstmgen; choose another folder with -o")
        self.start_over()

    def start_over(self) -> None:
        """Remove what an aborted creation left (only called when aborted_creation() said it is all lstmgen's)."""
        for p in [*(self.ckpt_dir.iterdir() if self.ckpt_dir.is_dir() else []), *self.path.iterdir()]:
            if p.name not in (MARKER_NAME, LOCK_NAME, "checkpoints") and p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()

    def clean_temps(self) -> list[str]:
        """Remove what a killed writer can leave: temp files, and checkpoint halves (a .keras whose .json was
        never written, or a .json whose .keras was pruned) — neither is a committed checkpoint."""
        removed = atomic.clean_stale_temps(self.path) + atomic.clean_stale_temps(self.ckpt_dir)
        if self.ckpt_dir.is_dir():
            names = {p.name for p in self.ckpt_dir.iterdir()}
            for name in sorted(names):
                stem, ext = os.path.splitext(name)
                twin = stem + (".json" if ext == ".keras" else ".keras")
                if name.startswith("ckpt-") and ext in (".keras", ".json") and twin not in names:
                    with contextlib.suppress(OSError):
                        (self.ckpt_dir / name).unlink()
                        removed.append(name)
        return removed

    # --- who is training it ---------------------------------------------------------------------------
    def acquire_lock(self) -> None:
        """Take the run's exclusive lock (RunError naming the holder if another process trains it)."""
        self._lock.acquire()

    def release_lock(self) -> None:
        self._lock.release()

    @contextlib.contextmanager
    def lock(self):
        """Hold the run's lock for the block: RUN/.lock is flock'ed and names this process."""
        self.acquire_lock()
        try:
            yield
        finally:
            self.release_lock()

    def is_training(self) -> bool:
        """A process holds RUN/.lock (on this host: its flock; a stale file or reused pid does not count)."""
        return is_training(self.path / LOCK_NAME, self.path / "train.log")

    # --- metrics and log ------------------------------------------------------------------------------
    def write_metrics(self, history: list[dict]) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=METRIC_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow(row)
        atomic.write_text(self.path / "metrics.csv", buf.getvalue())

    def log(self, message: str) -> None:
        """Append one timestamped line to train.log (the format `lstmgen estimate --log` reads)."""
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        with open(self.path / "train.log", "a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")
            f.flush()
