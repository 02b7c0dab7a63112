"""What PyTorch's fused Adam kernel saves per training step: lstmgen's step with Keras' torch Adam update (ten
multi-tensor passes, each a separate pass over every weight on a CPU) against the same step with the update that
`lstmgen/runtime/torchstep.py` routes to `torch._fused_adam_` (one pass), alternating in one process.

Both sides are the model, optimizer and step `lstmgen train` builds (`setup_model`), fed by `TrainBatches`; only
the Adam update differs. The figure is the median over rounds of (ms per step with Keras' update ÷ with the fused).

    python bench/adam_cost.py                       # the CPU default and cpu-30min's 2 × 512, bf16
    python bench/adam_cost.py --shapes 2x512 --rounds 6
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import argparse
import statistics
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from peer_torch_steps import DATA, alternate, lstmgen_step  # noqa: E402
from report import save_json  # noqa: E402
from torchloop import SHAPES  # noqa: E402


def keras_update(model) -> None:
    """Put Keras' own Adam update back in place of the fused one `setup_model` installed."""
    from keras.src.backend.torch.optimizers.torch_adam import Adam

    model.optimizer._parallel_update_step = types.MethodType(Adam._parallel_update_step, model.optimizer)


def step_fn(shape: str, fused_adam: bool):
    corpus, layers, units, emb, dropout, batch, seq = SHAPES[shape]
    text = (DATA / corpus).read_text(encoding="utf-8")
    prepare = None if fused_adam else keras_update
    return lstmgen_step(text, layers, units, emb, dropout, batch, seq, "bf16", prepare=prepare)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="+", default=["cpu", "2x512"], choices=list(SHAPES))
    p.add_argument("--block", type=int, default=10)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--out", default=str(HERE / "results" / "adam_cost.json"))
    a = p.parse_args()
    rows = []
    for shape in a.shapes:
        ms = alternate({"keras adam": step_fn(shape, False), "fused adam": step_fn(shape, True)}, a.block, a.rounds)
        ratios = [k / f for k, f in zip(ms["keras adam"], ms["fused adam"], strict=True)]
        row = {
            "shape": shape,
            "ms_per_step": ms,
            "median_ms": {k: statistics.median(v) for k, v in ms.items()},
            "speedup": statistics.median(ratios),
            "speedup_quartiles": statistics.quantiles(ratios, n=4),
        }
        rows.append(row)
        q = row["speedup_quartiles"]
        print(
            f"{shape:<6} Keras' Adam {row['median_ms']['keras adam']:.1f} ms/step, fused "
            f"{row['median_ms']['fused adam']:.1f}: {row['speedup']:.3f}× faster (quartiles {q[0]:.3f}–{q[-1]:.3f})",
            flush=True,
        )
    save_json(Path(a.out), {"block": a.block, "rounds": a.rounds, "rows": rows})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
