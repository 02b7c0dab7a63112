"""`lstmgen info`: everything one run directory holds, read from its files alone (no TensorFlow)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lstmgen.config import Config
from lstmgen.data.vocab import Vocab
from lstmgen.errors import RunError
from lstmgen.runs.rundir import RunDir, refuse_foreign_run_json
from lstmgen.runs.runfiles import is_run_dir, read_mapping, stat_or_none
from lstmgen.runs.runlist import human_size, summarize


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
