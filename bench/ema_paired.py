"""Does weight averaging help, and at which decay? One training run, scored at every epoch's end with its own weights
and with moving averages of them at several decays: the same trajectory, so no seed-to-seed noise between them.

The averages are kept by a callback as `--ema` keeps its one in the optimizer (lstmgen/training/ema.py: the first
step's weights, then about the last tenth of the steps so far until that reaches the decay), scored on the validation
split in the run's windows (`lstmgen.evaluation.loss.loss_on`, the windowed figure of the targets). The run itself is
`lstmgen.train` with the config given, the stateful pass and its own average off. torch backend (the CPU path).

    python bench/ema_paired.py --config cpu-30min --epochs 16 --seed 2          # the 30-minute recipe
    python bench/ema_paired.py --config cpu --max-minutes 5 --seed 1            # the CPU default, cut at 5 minutes
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import lstmgen  # noqa: E402
from lstmgen.config import make_config  # noqa: E402
from lstmgen.data.prepared import load_prepared  # noqa: E402
from lstmgen.evaluation.loss import loss_on  # noqa: E402
from lstmgen.runtime.backend import keras  # noqa: E402
from lstmgen.training.ema import RAMP  # noqa: E402
from report import save_json  # noqa: E402


class Averages(keras.callbacks.Callback):
    """Moving averages of the weights at `decays`, and each epoch's windowed validation loss for each of them."""

    def __init__(self, decays: list[float], val: np.ndarray, seq_len: int, out: Path):
        super().__init__()
        self.decays, self.val, self.seq_len, self.out = decays, val, seq_len, out
        self.t, self.rows = 0, []
        self.averages: dict[float, list] = {}

    def on_train_batch_end(self, batch, logs=None):
        weights = [v.value.detach() for v in self.model.trainable_variables]
        with torch.no_grad():  # self.t steps are in the averages so far
            if not self.averages:
                self.averages = {d: [w.clone() for w in weights] for d in self.decays}
            else:
                for d in self.decays:
                    torch._foreach_lerp_(self.averages[d], weights, 1.0 - min(d, (self.t / (self.t + 1)) ** RAMP))
            self.t += 1

    def on_epoch_end(self, epoch, logs=None):
        t0 = time.perf_counter()
        row = {"epoch": epoch + 1, "steps": self.t, "val_loss_logged": (logs or {}).get("val_loss")}
        row["raw"] = loss_on(self.model, self.val, self.seq_len, 256)["nats"]
        variables = self.model.trainable_variables
        held = [v.value.detach().clone() for v in variables]
        for d in self.decays:
            for v, a in zip(variables, self.averages[d], strict=True):
                v.assign(a)
            row[f"ema {d}"] = loss_on(self.model, self.val, self.seq_len, 256)["nats"]
        for v, h in zip(variables, held, strict=True):
            v.assign(h)
        row["scoring_seconds"] = time.perf_counter() - t0
        self.rows.append(row)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        save_json(self.out, {"rows": self.rows})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "tinyshakespeare.txt"))
    p.add_argument("--config", default="cpu-30min")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--decays", default="0.995,0.998,0.999")
    p.add_argument("--epochs", type=int, help="default: the config's")
    p.add_argument("--max-minutes", type=float, default=60.0, help="the run's time budget (the schedule is not fitted)")
    p.add_argument("--run-dir", help="default: a temporary directory")
    p.add_argument("--out", default=str(HERE / "results" / "ema_paired.json"))
    a = p.parse_args()
    decays = [float(d) for d in a.decays.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = lstmgen.prepare(a.corpus, out=Path(tmp) / "prepared", progress=False)
        val = np.asarray(load_prepared(corpus.path).val)
        averages = Averages(decays, val, make_config(a.config, {}).seq_len, Path(a.out))
        extra = {"epochs": a.epochs} if a.epochs else {}
        run = lstmgen.train(
            corpus,
            config=a.config,
            out=a.run_dir or Path(tmp) / "run",
            seed=a.seed,
            stateful_val_streams=0,
            ema=0.0,  # the run's own weights are the "raw" column; the averages are this script's
            max_minutes=a.max_minutes,
            fit_to_budget=False,
            callbacks=[averages],
            progress=False,
            **extra,
        )
        save_json(Path(a.out), {"config": a.config, "seed": a.seed, "rows": averages.rows, "history": run.history})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
