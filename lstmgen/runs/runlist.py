"""`lstmgen runs`: the run directories under a folder, each summed up from its files alone (no TensorFlow)."""

from __future__ import annotations

import contextlib
import math
import os
import time
from datetime import datetime
from pathlib import Path

from lstmgen.errors import LstmgenError, RunError
from lstmgen.runs.rundir import DEFAULT_RUNS, RunDir
from lstmgen.runs.runfiles import is_run_dir
from lstmgen.runs.state import TrainState

LN2 = math.log(2)


def dir_size(path: Path) -> tuple[int, float]:
    """(bytes, newest mtime) of everything under `path`; hard links (latest/best.keras) are counted once."""
    seen: set[tuple[int, int]] = set()
    total, newest = 0, 0.0
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                            continue
                        st = entry.stat(follow_symlinks=False)
                        newest = max(newest, st.st_mtime)
                        key = (st.st_dev, st.st_ino)
                        if key not in seen:
                            seen.add(key)
                            total += st.st_size
        except OSError:
            continue
    return total, newest


def run_state(run: RunDir, newest: TrainState | None, epochs: int) -> str:
    """running | finished | stopped early (by a callback) | interrupted | time budget | empty (nothing saved yet)."""
    if run.is_training():
        return "running"
    if newest is None:
        return "empty"
    if newest.epoch >= epochs:
        return "finished"
    if newest.status == "time budget reached":
        return "time budget"
    if newest.status == "stopped by a callback":
        return "stopped early"
    return "interrupted"


def summarize(path: str | os.PathLike) -> dict:
    """One run directory as a dict: state, progress, best validation loss, size and last update."""
    run = RunDir(path)
    info = run.info()
    checkpoints = run.checkpoints()
    newest = checkpoints[0][1] if checkpoints else None
    cfg = {**run.saved_config(), **(newest.config if newest else {})}
    size, updated = dir_size(run.path)
    history = newest.history if newest else []
    has_val = any(h.get("val_loss") is not None for h in history)
    best = newest.best_val_loss if newest else None
    if newest is None and isinstance(info.get("best_val_loss"), (int, float)):  # a built-in model: no checkpoints
        has_val, best = True, info["best_val_loss"]
    return {
        "path": str(run.path),
        "name": run.path.name,
        "state": run_state(run, newest, int(cfg["epochs"])),
        "epoch": newest.epoch if newest else 0,
        "epochs": int(cfg["epochs"]),
        "global_step": newest.global_step if newest else 0,
        "best_val_loss": best if has_val else None,
        "best_val_bpc": best / LN2 if has_val and best is not None else None,
        "best_train_loss": best if not has_val else None,
        "best_epoch": newest.best_epoch if newest else None,
        "size_bytes": size,
        "updated": datetime.fromtimestamp(updated).astimezone().isoformat(timespec="seconds") if updated else None,
        "source": info.get("source"),
    }


def find_runs(root: str | os.PathLike = DEFAULT_RUNS) -> list[Path]:
    """`root` itself if it is a run directory, else the run directories among its children and grandchildren."""
    root = Path(root)
    if is_run_dir(root):
        return [root]
    if not root.is_dir():
        hint = "train one with 'lstmgen train CORPUS'" if root == DEFAULT_RUNS else "pass a directory of runs"
        raise RunError(f"'{root}' is not a directory; {hint}")
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if is_run_dir(child):
            found.append(child)
        else:
            with contextlib.suppress(OSError):
                found += sorted(g for g in child.iterdir() if g.is_dir() and is_run_dir(g))
    return found


def list_runs(root: str | os.PathLike = DEFAULT_RUNS) -> list[dict]:
    """Summaries of the runs under `root`, most recently updated first; unreadable runs are listed as such."""
    rows = []
    for path in find_runs(root):
        try:
            rows.append(summarize(path))
        except LstmgenError as e:
            rows.append(
                {
                    "path": str(path),
                    "name": path.name,
                    "state": "unreadable",
                    "error": str(e),
                    "updated": None,
                    "size_bytes": dir_size(path)[0],
                }
            )
    return sorted(rows, key=lambda r: r.get("updated") or "", reverse=True)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def ago(iso: str | None, now: float | None = None) -> str:
    if not iso:
        return "-"
    seconds = (now or time.time()) - datetime.fromisoformat(iso).timestamp()
    for limit, div, unit in ((120, 1, "s"), (7200, 60, "min"), (172800, 3600, "h")):
        if seconds < limit:
            return f"{max(seconds, 0) / div:.0f} {unit} ago"
    return f"{seconds / 86400:.0f} days ago"


def format_runs(rows: list[dict], root) -> str:
    if not rows:
        return f"no runs under '{root}'"
    table = [("RUN", "STATE", "EPOCH", "BEST VAL (nats, bits/char)", "SIZE", "UPDATED")]
    for r in rows:
        if r["state"] == "unreadable":
            table.append((r["path"], "unreadable", "-", r["error"][:60], human_size(r["size_bytes"]), "-"))
            continue
        if r["best_val_loss"] is not None:
            best = f"{r['best_val_loss']:.4f}  {r['best_val_bpc']:.3f}"
        else:
            best = "-" if r["best_train_loss"] is None else f"{r['best_train_loss']:.4f} (train)"
        table.append(
            (
                r["path"],
                r["state"],
                f"{r['epoch']}/{r['epochs']}",
                best,
                human_size(r["size_bytes"]),
                f"{r['updated'][:16].replace('T', ' ')} ({ago(r['updated'])})" if r["updated"] else "-",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table)
