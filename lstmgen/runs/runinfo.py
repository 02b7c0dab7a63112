"""`lstmgen runs` and `lstmgen info`: what run directories hold, read from their files alone (no TensorFlow)."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from lstmgen.config import Config
from lstmgen.data.vocab import Vocab
from lstmgen.errors import LstmgenError, RunError
from lstmgen.runs.rundir import DEFAULT_RUNS, RunDir, is_run_dir, read_mapping, refuse_foreign_run_json, stat_or_none
from lstmgen.runs.state import TrainState

LN2 = math.log(2)


def parameter_count(cfg: Config | dict, vocab_size: int) -> int:
    """Weights of Embedding → LSTM stack → Dense, from the shape keys alone (equals Keras' count_params)."""
    get: Callable[[str], Any] = cfg.get if isinstance(cfg, dict) else lambda k: getattr(cfg, k)
    e, units, layers, v = int(get("embedding_dim")), int(get("units")), int(get("layers")), int(vocab_size)
    total = v * e
    for i in range(layers):
        n_in = e if i == 0 else units
        total += 4 * (n_in * units + units * units + units)
    return total + units * v + v


def printable_vocab(chars: list[str]) -> str:
    """The vocabulary on one line: newline as \\n, tab as \\t, space as ␠, other invisible characters as \\uXXXX."""
    special = {"\n": "\\n", "\t": "\\t", " ": "\u2420", "\\": "\\\\"}
    return "".join(special.get(c) or (c if c.isprintable() else f"\\u{ord(c):04x}") for c in chars)


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


# --- info -------------------------------------------------------------------------------------------------------


def checkpoint_rows(run: RunDir) -> list[dict]:
    """The run's checkpoints for `info`, newest first. A trainer may prune one between listing and reading it:
    the listing is then taken once more, and a checkpoint gone again is left out."""
    links = {name: run.path / f"{name}.keras" for name in ("latest", "best")}
    for _attempt in range(2):
        rows, vanished = [], False
        usable, damaged = run.scan_checkpoints()
        for path, why in damaged:  # listed, not used: resume falls back past them
            st = stat_or_none(path.with_suffix(".keras"))
            if st is None:
                vanished = True
                continue
            rows.append(
                {
                    "file": str(path.relative_to(run.path)),
                    "global_step": int(path.name[5:14]),
                    "size_bytes": st.st_size,
                    "damaged": why,
                }
            )
        for model, state in usable:
            st = stat_or_none(model)
            if st is None:
                vanished = True
                continue
            row = next((h for h in reversed(state.history) if h.get("global_step") == state.global_step), None)
            marks = [
                n for n, link in links.items() if (ls := stat_or_none(link)) is not None and os.path.samestat(ls, st)
            ]
            rows.append(
                {
                    "file": str(model.relative_to(run.path)),
                    "global_step": state.global_step,
                    "epoch": state.epoch,
                    "step": state.step,
                    "status": state.status,
                    "val_loss": row.get("val_loss") if row else None,
                    "loss": row.get("loss") if row else None,
                    "time": state.time,
                    "size_bytes": st.st_size,
                    "is": marks,
                }
            )
        if not vanished:
            break
    return rows


def run_info(path: str | os.PathLike) -> dict:
    """Everything `lstmgen info` shows, as a JSON-ready dict (`path` may be builtin:NAME, a shipped model)."""
    if str(path).startswith("builtin:"):
        from lstmgen.runs.builtinmodels import builtin_model_dir

        path = builtin_model_dir(str(path)[len("builtin:") :])
    run = RunDir(path)
    if not Path(path).is_dir():
        raise RunError(f"run directory '{path}' does not exist; list runs with 'lstmgen runs'")
    if not is_run_dir(path):
        refuse_foreign_run_json(path)
        raise RunError(f"'{path}' is not an lstmgen run directory (no run.json); list runs with 'lstmgen runs'")
    summary = summarize(path)
    vocab = Vocab.load(run.path / "vocab.json")
    cfg = run.saved_config()
    checkpoints = checkpoint_rows(run)
    return {
        **summary,
        "run": read_mapping(run.path / "run.json", "run file"),
        "config": cfg,
        "parameters": parameter_count(cfg, vocab.size),
        "vocab": {"size": vocab.size, "chars": vocab.chars, "printable": printable_vocab(vocab.chars)},
        "checkpoints": sorted(checkpoints, key=lambda c: c["global_step"], reverse=True),
        "files": {
            name: (run.path / name).exists()
            for name in ("metrics.csv", "train.log", "loss.png", "samples.txt", "tensorboard")
        },
    }


def format_info(d: dict) -> str:
    run = d["run"]
    c = d["config"]
    best = (
        f"val {d['best_val_loss']:.4f} nats ({d['best_val_bpc']:.3f} bits/char) at epoch {d['best_epoch']}"
        if d["best_val_loss"] is not None
        else "no validation loss yet"
    )
    lines = [
        (
            f"run          {d['path']}  ({d['state']}, epoch {d['epoch']}/{d['epochs']}, {d['global_step']:,} steps, "
            f"{human_size(d['size_bytes'])})"
        ),
        f"source       {run.get('source')}",
        f"prepared     {run.get('prepared')}  (sha256 {str(run.get('data_sha256'))[:12]}…)",
        f"created      {run.get('created')}",
        *(
            [f"branched     from {b.get('run')} at global step {b.get('global_step', 0):,}"]
            if isinstance(b := run.get("branched_from"), dict)
            else []
        ),
        *(
            [
                (
                    f"fine-tuned   from {b.get('spec')}: {b.get('path')} "
                    f"(sha256 {str(b.get('sha256'))[:12]}…, trained on "
                    f"data sha256 {str(b.get('data_sha256'))[:12]}…, {b.get('source')}); vocabulary {b.get('vocab')}, "
                    f"{b.get('shared')} characters shared"
                )
            ]
            if isinstance(b := run.get("base"), dict)
            else []
        ),
        (
            f"model        embedding {c['embedding_dim']} → {c['layers']} × LSTM {c['units']} → dense "
            f"{d['vocab']['size']}: {d['parameters']:,} parameters"
        ),
        f"vocabulary   {d['vocab']['size']} characters: {d['vocab']['printable']}",
        f"best         {best}",
        "files        " + ", ".join(k + ("" if v else " (none yet)") for k, v in d["files"].items()),
        "checkpoints  newest first" if d["checkpoints"] else "checkpoints  none yet",
    ]
    for ck in d["checkpoints"]:
        if ck.get("damaged"):
            lines.append(f"  {ck['file']}  damaged, not used: {ck['damaged']}")
            continue
        val = f"val {ck['val_loss']:.4f}" if ck["val_loss"] is not None else "mid-epoch" if ck["step"] else "-"
        lines.append(
            f"  {ck['file']}  epoch {ck['epoch']}, step {ck['global_step']:,}  {val}  "
            f"{human_size(ck['size_bytes'])}  {ck['time']}" + (f"  ({', '.join(ck['is'])})" if ck["is"] else "")
        )
    lines.append("config")
    width = max(map(len, c))
    lines += [f"  {k.ljust(width)}  {v}" for k, v in c.items()]
    return "\n".join(lines)
