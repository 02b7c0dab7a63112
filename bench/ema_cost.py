"""What weight averaging (`--ema`) costs per training step: lstmgen's step with and without it, alternating in one
process (the box's drift cancels out), torch backend as `train` picks it on a CPU.

Keras keeps the average in the optimizer and updates it after every step; this measures that update as lstmgen
runs it. The figure is the median over rounds of (ms per step with ema ÷ without).

    python bench/ema_cost.py                       # the CPU default and cpu-30min's 2 × 512, bf16
    python bench/ema_cost.py --shapes cpu --rounds 10
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from peer_torch_steps import alternate, lstmgen_step  # noqa: E402
from report import save_json  # noqa: E402
from torchloop import SHAPES  # noqa: E402


def compare(shape: str, ema: float, block: int, rounds: int) -> dict:
    corpus, layers, units, emb, dropout, batch, seq = SHAPES[shape]
    text = (DATA / corpus).read_text(encoding="utf-8")
    sides = {
        "off": lstmgen_step(text, layers, units, emb, dropout, batch, seq, "bf16"),
        f"ema {ema}": lstmgen_step(text, layers, units, emb, dropout, batch, seq, "bf16", ema=ema),
    }
    ms = alternate(sides, block, rounds)
    off, on = ms.values()
    ratios = [b / a for a, b in zip(off, on, strict=True)]
    return {
        "shape": shape,
        "ema": ema,
        "ms_per_step": ms,
        "median_ms": {k: statistics.median(v) for k, v in ms.items()},
        "cost_ratio": statistics.median(ratios),
        "cost_quartiles": statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="+", default=["cpu", "2x512"], choices=list(SHAPES))
    p.add_argument("--ema", type=float, default=0.995)
    p.add_argument("--block", type=int, default=10, help="steps per block")
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--out", default=str(HERE / "results" / "ema_cost.json"))
    a = p.parse_args()
    rows = []
    for shape in a.shapes:
        r = compare(shape, a.ema, a.block, a.rounds)
        rows.append(r)
        off, on = r["median_ms"].values()
        q = r["cost_quartiles"]
        print(
            f"{shape:<6} {off:.1f} ms/step without ema, {on:.1f} with: ×{r['cost_ratio']:.3f} "
            f"(quartiles {q[0]:.3f}–{q[-1]:.3f})",
            flush=True,
        )
    from importlib.metadata import version

    save_json(
        Path(a.out),
        {"block": a.block, "rounds": a.rounds, "rows": rows, "versions": {m: version(m) for m in ("torch", "keras")}},
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
