"""lstmgen's training speed next to what a user would write instead: a plain PyTorch `nn.LSTM` loop, one run.

The PyTorch side is the ~40-line loop from a tutorial (bench/torchloop.py): `nn.Embedding → nn.LSTM(num_layers,
dropout) → Dropout → nn.Linear`, Adam with global-norm clipping, random windows of the corpus, float32 or bfloat16
autocast (oneDNN's fused LSTM on a CPU). The lstmgen side is the real CLI (`lstmgen train CORPUS --config cpu …`)
in a fresh process on each Keras backend asked for; its rate is read from train.log in the second epoch (steady
state, as bench/clirate.py does). Each measurement is a fresh process; sides alternate; medians of `--repeats`.

Shapes (--shapes): `cpu` = the CPU default (Embedding 64 → 2 × LSTM 256 → Dense V, dropout 0.2, batch 32 × 64) on
tinyshakespeare; `naive` = the notebook's model (1 × 128, embedding 50, batch 128 × 100) on War and Peace;
`2x512` = 2 × 512 at batch 32 × 64 on tinyshakespeare.

Target (issue 15): lstmgen ÷ PyTorch ≥ 1.0, best precision of each side.

    python bench/peer_torch.py                                  # needs torch installed (pip install torch)
    python bench/peer_torch.py --shapes cpu --steps 60 --repeats 1   # quick look

Fresh processes on a box whose speed drifts by ±20 % within minutes need many repeats; bench/peer_torch_steps.py
alternates the two training steps in one process instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(HERE))

from clirate import train_chars_per_s  # noqa: E402
from report import save_json  # noqa: E402
from torchloop import SHAPES  # noqa: E402


def torch_loop(shape: str, precision: str, steps: int, warmup: int) -> float:
    corpus, layers, units, emb, dropout, batch, seq = SHAPES[shape]
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "torchloop.py"),
            str(DATA / corpus),
            str(layers),
            str(units),
            str(emb),
            str(dropout),
            str(batch),
            str(seq),
            precision,
            str(steps),
            str(warmup),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["chars_per_s"]


def lstmgen_train(shape: str, backend: str, precision: str, steps: int, warmup: int) -> float:
    corpus, layers, units, emb, dropout, batch, seq = SHAPES[shape]
    options = [
        "--config",
        "cpu",
        "--layers",
        str(layers),
        "--units",
        str(units),
        "--embedding-dim",
        str(emb),
        "--dropout",
        str(dropout),
        "--mixed-precision",
        "bf16" if precision == "bf16" else "off",
        "--seed",
        "1",
        "--checkpoint-minutes",
        "0",
        "--no-tensorboard",
        "--val-fraction",
        "0.1",
    ]
    return train_chars_per_s(DATA / corpus, options, batch, seq, steps, warmup, env={"KERAS_BACKEND": backend})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--backends", nargs="+", default=["torch", "tensorflow"])
    p.add_argument("--precisions", nargs="+", default=["bf16", "f32"])
    p.add_argument("--steps", type=int, default=150, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default=str(HERE / "results" / "peer_torch.json"))
    a = p.parse_args()
    rows = []
    for shape in a.shapes:
        for precision in a.precisions:
            res: dict[str, list[float]] = {"pytorch loop": []} | {f"lstmgen {b}": [] for b in a.backends}
            for r in range(a.repeats):
                res["pytorch loop"].append(torch_loop(shape, precision, a.steps, a.warmup))
                for b in a.backends:
                    res[f"lstmgen {b}"].append(lstmgen_train(shape, b, precision, a.steps, a.warmup))
                print(
                    f"{shape:<6} {precision:<5} repeat {r + 1}: "
                    + "  ".join(f"{k} {v[-1]:,.0f}" for k, v in res.items()),
                    flush=True,
                )
            rows.append(
                {
                    "shape": shape,
                    "precision": precision,
                    "chars_per_s": res,
                    "median": {k: statistics.median(v) for k, v in res.items()},
                    # each repeat's lstmgen ÷ the PyTorch run just before it: what the box's drift disturbs least
                    "median_pair_ratio": {
                        k: statistics.median(q / p for p, q in zip(res["pytorch loop"], v, strict=True))
                        for k, v in res.items()
                        if k != "pytorch loop"
                    },
                }
            )
    for r in rows:
        for k, v in r["median_pair_ratio"].items():
            print(f"{r['shape']:<6} {r['precision']:<5} {k}: median of per-repeat ratios {v:.2f}×")
    print(f"\n{'shape':<6} {'side':<20} " + " ".join(f"{pr:>10}" for pr in a.precisions) + "   best ÷ pytorch best")
    for shape in a.shapes:
        meds = {(r["precision"], k): v for r in rows if r["shape"] == shape for k, v in r["median"].items()}
        sides = ["pytorch loop"] + [f"lstmgen {b}" for b in a.backends]
        peer = max(meds[(pr, "pytorch loop")] for pr in a.precisions)
        for side in sides:
            best = max(meds[(pr, side)] for pr in a.precisions)
            print(
                f"{shape:<6} {side:<20} "
                + " ".join(f"{meds[(pr, side)]:>10,.0f}" for pr in a.precisions)
                + f"   {best / peer:>5.2f}×"
            )
    from importlib.metadata import version

    save_json(
        Path(a.out),
        {
            "steps": a.steps,
            "warmup": a.warmup,
            "rows": rows,
            "cpu_count": os.cpu_count(),
            "versions": {m: version(m) for m in ("torch", "keras", "tensorflow")},
        },
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
