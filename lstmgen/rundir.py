"""A run directory on disk: config, vocabulary, checkpoints, metrics and the plain-text training log. No TensorFlow.

Layout:
    config.yaml          resolved config the run was trained with
    vocab.json           the vocabulary (ids ↔ characters)
    run.json             identity: format version, data it was trained on, model shape
    checkpoints/ckpt-<global step>.keras + .json   the .json is written last: it commits the checkpoint
    latest.keras, best.keras                       hard links to the newest and the best-by-validation checkpoint
    metrics.csv, train.log
    loss.png, samples.txt, tensorboard/             loss curves, per-epoch samples, TensorBoard event files
    .lock                pid and host of the process training the run (removed when it exits)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import socket
import time
from datetime import datetime
from pathlib import Path

import yaml

from lstmgen import FORMAT_VERSION, atomic, ckptschema
from lstmgen.config import Config
from lstmgen.errors import UserError

RUN_FORMAT = "lstmgen-run"
CKPT_RE = re.compile(r"^ckpt-(\d{9})\.json$")
METRIC_FIELDS = ["epoch", "global_step", "train_seconds", "wall_seconds", "epoch_seconds", "loss", "val_loss", "val_bpc",
                 "learning_rate", "time"]
DEFAULT_RUNS = Path("runs")
LOCK_NAME = ".lock"
RECENT_LOG_SECONDS = 120  # a train.log written this recently counts as a running run (e.g. on another host)


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def is_run_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / "run.json").is_file()


def read_mapping(path: Path, what: str, fix: str = "", loads=json.loads) -> dict:
    """A JSON object from `path` (a YAML mapping with loads=yaml.safe_load); anything else is a UserError."""
    hint = f"; {fix}" if fix else ""
    try:
        data = loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{what} '{path}' is missing{hint}") from None
    except (OSError, ValueError, yaml.YAMLError) as e:  # ValueError: JSON and UTF-8 decoding errors
        raise UserError(f"{what} '{path}' is unreadable or corrupt ({e.__class__.__name__}){hint}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} '{path}' is corrupt (not a {'JSON object' if loads is json.loads else 'mapping'})"
                        f"{hint}")
    return data


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.ckpt_dir = self.path / "checkpoints"

    # --- identity -------------------------------------------------------------------------------------
    def create(self, info: dict, files: dict[str, str] | None = None) -> None:
        """Make the directory, write `files` (name → text), then run.json last: it marks the run as complete."""
        try:
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create run directory '{self.path}': {e.strerror}; choose another with -o") from None
        if not os.access(self.path, os.W_OK):
            raise UserError(f"run directory '{self.path}' is not writable; choose another with -o")
        for name, text in (files or {}).items():
            atomic.write_text(self.path / name, text)
        atomic.write_json(self.path / "run.json", {"format": RUN_FORMAT, "version": FORMAT_VERSION,
                                                   "created": now_iso(), **info})

    def read_config(self) -> dict:
        """The run's config.yaml as saved; missing, unreadable or not a mapping is a UserError."""
        return read_mapping(self.path / "config.yaml", "run config", loads=yaml.safe_load,
                            fix="restore it (each checkpoint's .json keeps the run's settings under \"config\") or "
                                "start a new run with -o NEW_DIR")

    def saved_config(self) -> dict:
        """The run's config.yaml over the defaults, for reports (a missing or broken file gives the defaults)."""
        try:
            saved = self.read_config()
        except UserError:
            saved = {}
        return {**Config().resolved(), **saved}

    def info(self) -> dict:
        info = read_mapping(self.path / "run.json", "run file")
        if info.get("format") != RUN_FORMAT:
            raise UserError(f"'{self.path}' is not an lstmgen run directory (run.json has another format)")
        if info.get("version") != FORMAT_VERSION:
            raise UserError(f"run directory '{self.path}' was written by an incompatible lstmgen "
                            f"(format version {info.get('version')}, this lstmgen reads {FORMAT_VERSION}); "
                            "retrain it or use the matching lstmgen version")
        return info

    # --- checkpoints ----------------------------------------------------------------------------------
    def checkpoint_path(self, global_step: int) -> Path:
        return self.ckpt_dir / f"ckpt-{global_step:09d}.keras"

    def checkpoints(self) -> list[tuple[Path, dict]]:
        """Committed, usable checkpoints, newest first, as (model path, state) pairs (see `scan_checkpoints`)."""
        return self.scan_checkpoints()[0]

    def scan_checkpoints(self) -> tuple[list[tuple[Path, dict]], list[tuple[Path, str]]]:
        """(usable, damaged): committed checkpoints whose state passes `ckptschema`, newest first, as (model path,
        state); and those whose .json is unreadable or fails it, as (.json path, why), newest first."""
        found, damaged = [], []
        if not self.ckpt_dir.is_dir():
            return found, damaged
        for p in self.ckpt_dir.iterdir():
            m = CKPT_RE.match(p.name)
            model = p.with_suffix(".keras")
            if not m or not model.is_file():  # a .json without its .keras is an uncommitted half (clean_temps)
                continue
            try:
                state = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                damaged.append((p, f"unreadable ({e.__class__.__name__})"))
                continue
            why = ckptschema.problem(state, int(m.group(1)))
            if why:
                damaged.append((p, why))
            else:
                found.append((model, state))
        found.sort(key=lambda item: item[1]["global_step"], reverse=True)
        damaged.sort(key=lambda item: item[0].name, reverse=True)
        return found, damaged

    def commit_checkpoint(self, global_step: int, state: dict, keep: int, best: bool) -> None:
        """Commit a checkpoint whose .keras file is already in place, update the links, prune old ones."""
        model = self.checkpoint_path(global_step)
        atomic.write_json(model.with_suffix(".json"), state)
        self.link(model, self.path / "latest.keras")
        if best:
            self.link(model, self.path / "best.keras")
        best_target = (self.path / "best.keras")
        for old_model, old_state in self.checkpoints()[keep:]:
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
        """True if a killed `create` left only its own files behind (no run.json yet): safe to start over."""
        if not self.path.is_dir() or (self.path / "run.json").exists():
            return False
        own = {"config.yaml", "vocab.json", "checkpoints"}
        entries = list(self.path.iterdir())
        return all(p.name in own or p.name.startswith(atomic.TMP_MARK) for p in entries) and (
            not self.ckpt_dir.is_dir() or not any(self.ckpt_dir.iterdir()))

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
    @contextlib.contextmanager
    def lock(self):
        """Mark the run as being trained: RUN/.lock holds this process's pid and host until it exits."""
        path = self.path / LOCK_NAME
        atomic.write_json(path, {"pid": os.getpid(), "host": socket.gethostname(), "started": now_iso()})
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def is_training(self) -> bool:
        """True while a live process holds RUN/.lock, or (lock on another host, or none) train.log is fresh."""
        try:
            lock = json.loads((self.path / LOCK_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            lock = None
        if isinstance(lock, dict) and lock.get("host") == socket.gethostname() and isinstance(lock.get("pid"), int):
            return _pid_alive(lock["pid"])
        try:
            age = time.time() - (self.path / "train.log").stat().st_mtime
        except OSError:
            return False
        return lock is not None and age < RECENT_LOG_SECONDS

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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def model_file(target: str | os.PathLike | None, which: str = "best") -> tuple[Path, Path]:
    """Resolve RUN_DIR | MODEL.keras | None (latest run) to (model file, run directory)."""
    if target is None:
        run = latest_run()
        if run is None:
            raise UserError(f"no trained run found under '{DEFAULT_RUNS}/'; train one with 'lstmgen train CORPUS' "
                            "or pass a run directory")
        target = run
    path = Path(target)
    if path.is_dir():
        if not is_run_dir(path):
            raise UserError(f"'{path}' is not an lstmgen run directory (no run.json)")
        model = path / f"{which}.keras"
        if not model.exists():
            model = path / "latest.keras"
        if not model.exists():
            raise UserError(f"run directory '{path}' has no saved model yet; train it first")
        return model, path
    if not path.exists():
        raise UserError(f"model or run directory '{path}' does not exist")
    if path.suffix != ".keras":
        raise UserError(f"'{path}' is not a .keras model file or a run directory")
    for run in (path.parent, path.parent.parent):
        if is_run_dir(run):
            return path, run
    raise UserError(f"model '{path}' is not inside an lstmgen run directory (its vocab.json is needed)")


def latest_run(root: Path = DEFAULT_RUNS) -> Path | None:
    if not root.is_dir():
        return None
    runs = [p for p in root.iterdir() if p.is_dir() and is_run_dir(p) and (p / "latest.keras").exists()]
    return max(runs, key=lambda p: (p / "latest.keras").stat().st_mtime, default=None)
