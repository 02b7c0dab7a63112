"""Where a training step's time goes: the torch profiler over lstmgen's step or the PyTorch loop's, by operator.

Prints the operators by their own CPU time per step, and the share of the fused LSTM kernel (oneDNN's
`mkldnn_rnn_layer` forward and backward) against everything else.

    python bench/profile_step.py                          # lstmgen, CPU default shape
    python bench/profile_step.py --side pytorch --shape naive
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from peer_torch_steps import DATA, lstmgen_step  # noqa: E402
from report import save_json  # noqa: E402
from torchloop import SHAPES, torch_step  # noqa: E402

KERNEL = ("aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer_backward")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--side", choices=["lstmgen", "pytorch"], default="lstmgen")
    p.add_argument("--shape", choices=list(SHAPES), default="cpu")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rows", type=int, default=15)
    p.add_argument("--out", default=None, help="JSON file (default bench/results/profile_step_SIDE_SHAPE.json)")
    a = p.parse_args()

    from torch.profiler import ProfilerActivity, profile

    corpus, layers, units, emb, dropout, batch, seq = SHAPES[a.shape]
    text = (DATA / corpus).read_text(encoding="utf-8")
    make = lstmgen_step if a.side == "lstmgen" else torch_step
    step = make(text, layers, units, emb, dropout, batch, seq, "bf16")
    for _ in range(10):
        float(step())
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(a.steps):
            float(step())
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    per_step = {e.key: (e.self_cpu_time_total / 1000 / a.steps, e.count / a.steps) for e in ops}
    total = sum(ms for ms, _ in per_step.values())
    kernel = sum(per_step.get(k, (0.0, 0))[0] for k in KERNEL)
    calls = sum(n for _, n in per_step.values())
    print(f"{a.side}, shape {a.shape}: {total:.1f} ms of operator time per step, {calls:.0f} operator calls")
    print(f"  fused LSTM kernel {kernel:.1f} ms ({kernel / total:.0%}); everything else {total - kernel:.1f} ms")
    for name, (ms, n) in list(per_step.items())[: a.rows]:
        print(f"  {ms:7.2f} ms  {n:6.0f} calls  {name}")
    out = a.out or HERE / "results" / f"profile_step_{a.side}_{a.shape}.json"
    top = [{"operator": k, "ms_per_step": ms, "calls_per_step": n} for k, (ms, n) in list(per_step.items())[:40]]
    save_json(
        out,
        {
            "side": a.side,
            "shape": a.shape,
            "steps": a.steps,
            "ms_per_step": total,
            "kernel_ms_per_step": kernel,
            "calls_per_step": calls,
            "top_operators": top,
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
