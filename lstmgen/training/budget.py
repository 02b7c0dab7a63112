"""How many epochs fit in a run's time budget, judged from the epochs it has run.

A run with `--fit-to-budget`, `--max-minutes` and a cosine schedule is sized to the budget: after each epoch, the
schedule is set to end with the last epoch that fits, so the run stops annealed and validated instead of being cut
mid-epoch at a high learning rate (training/trainer.py `fit_to_budget`).

    >>> history = [{"wall_seconds": 130.0, "global_step": 100}, {"wall_seconds": 230.0, "global_step": 200}]
    >>> epochs_in_budget(cap=20, history=history, budget_seconds=1800, steps_per_epoch=100)
    17
"""

from __future__ import annotations

import itertools
import math
import statistics

RECENT = 3  # epochs whose pace predicts the next ones; the first is left out once there are others (start-up)


def epochs_in_budget(
    cap: int, history: list[dict], budget_seconds: float, steps_per_epoch: int, slack: float = 1.0
) -> int:
    """The epochs the run can have finished within `budget_seconds` of wall time (steps, validation and saves), at
    most `cap` and at least the epochs done; `cap` when the history cannot tell (no epoch yet, no wall times).
    `slack` > 1 assumes epochs that much slower than the recent ones."""
    if not history or not math.isfinite(budget_seconds):
        return cap
    if any(row.get("wall_seconds") is None or row.get("global_step") is None for row in history):
        return cap  # a run recorded before wall times were
    points = [(0.0, 0)] + [(float(row["wall_seconds"]), int(row["global_step"])) for row in history]
    paces = [  # wall seconds per epoch of today's length, per recorded epoch
        (w1 - w0) * steps_per_epoch / (s1 - s0)
        for (w0, s0), (w1, s1) in itertools.pairwise(points)
        if s1 > s0 and w1 >= w0
    ]
    if not paces:
        return cap
    recent = paces[1:][-RECENT:] or paces
    left = budget_seconds - points[-1][0]
    done = len(history)
    return max(done, min(cap, done + int(left // (statistics.median(recent) * slack))))
