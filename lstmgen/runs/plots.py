"""The loss-curve PNG of a run: train and validation loss in nats (left axis) and bits/char (right axis), against
global steps and against wall time. Drawn with matplotlib's object API (no pyplot state, no display needed)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from lstmgen.util import atomic

LN2 = math.log(2)
PNG_NAME = "loss.png"


def _num(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a run's metrics.csv with numbers parsed (missing or empty cells become None)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return [{k: (_num(v) if k != "time" else v) for k, v in row.items()} for row in csv.DictReader(f)]
    except FileNotFoundError:
        return []


def _bits_axis(ax) -> None:
    ax.secondary_yaxis("right", functions=(lambda n: n / LN2, lambda b: b * LN2)).set_ylabel("bits/char")


def loss_figure(history: list[dict], title: str = ""):
    """A matplotlib Figure of the loss curves of `history` (metrics rows: global_step, wall_seconds, loss, val_loss).

    >>> fig = loss_figure([{"global_step": 100, "wall_seconds": 30, "loss": 2.1, "val_loss": 2.0}])
    >>> len(fig.axes) >= 2
    True
    """
    from matplotlib.figure import Figure

    rows = [r for r in history if _num(r.get("global_step")) is not None]
    fig = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    longest = max((_num(r.get("wall_seconds")) or 0.0 for r in rows), default=0.0)
    unit, time_scale = ("seconds", 1.0) if longest < 120 else ("minutes", 60.0) if longest < 7200 else ("hours", 3600.0)
    for ax, x_key, x_label, scale in (
        (axes[0], "global_step", "steps", 1.0),
        (axes[1], "wall_seconds", f"wall time ({unit})", time_scale),
    ):
        ends = [_num(r.get(x_key)) for r in rows]
        # an epoch's mean training loss belongs to the middle of the epoch; validation to its end
        starts = [0.0, *(x or 0.0 for x in ends[:-1])][: len(ends)]
        mids = [None if x is None else (x + start) / 2 for x, start in zip(ends, starts, strict=True)]
        for key, label, style, xs in (
            ("loss", "train (epoch mean, mid-epoch)", "o-", mids),
            ("val_loss", "validation (epoch end)", "s-", ends),
            ("val_loss_stateful", "validation, state carried", "^--", ends),
        ):
            pts = [(x, _num(r.get(key))) for x, r in zip(xs, rows, strict=True)]
            pts = [(x / scale, y) for x, y in pts if x is not None and y is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label=label, markersize=3)
        ax.set_xlabel(x_label)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("loss (nats/char)")
    _bits_axis(axes[1])
    if any(_num(r.get("loss")) is not None or _num(r.get("val_loss")) is not None for r in rows):
        axes[0].legend()
    if title:
        fig.suptitle(title)
    return fig


def write_loss_png(history: list[dict], path: str | Path, title: str = "") -> Path:
    """Draw the loss curves of `history` to `path` (a PNG, written atomically)."""
    fig = loss_figure(history, title)
    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
