"""How much faster could a training step be on this box? Three floors under lstmgen's and the PyTorch loop's step.

For each shape of bench/torchloop.py, in one process on the torch backend, bf16 as both sides train:

- **GEMM floor**: the step's matrix products alone (every LSTM layer's input and recurrent products, forward and
  backward, the recurrent ones as `seq` dependent products of `batch` rows, and the logits layer's), each timed
  with `torch.matmul` on this box. Nothing else is counted (gates, casts, loss, optimizer), so no kernel can beat it.
- **Kernel floor**: oneDNN's fused LSTM stack alone (`nn.LSTM` forward and backward under bf16 autocast, from inputs of
  the embedding's width): the kernel both sides call. A step on this kernel cannot take less.
- The two real steps: the PyTorch loop and lstmgen.

The kernel and the two steps run alternating in blocks (bench/peer_torch_steps.py's `alternate`), so the box's
drift falls on all three alike; each figure is the median over rounds.

The stretch of issue 15 (lstmgen ≥ 1.2× the PyTorch loop) needs lstmgen's step at or under PyTorch's ÷ 1.2; if the
kernel floor alone is above that, the stretch needs a faster LSTM kernel than the one PyTorch ships.

    python bench/ceiling.py                      # all shapes
    python bench/ceiling.py --shapes 2x512 --rounds 6
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402

from peer_torch_steps import DATA, alternate, lstmgen_step  # noqa: E402
from report import save_json  # noqa: E402
from torchloop import SHAPES, torch_step  # noqa: E402


def best_ms(fn, reps: int, tries: int = 5) -> float:
    """Fastest of `tries` timings of `reps` calls, in ms per call (the floor, so the least disturbed try)."""
    fn()
    times = []
    for _ in range(tries):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) / reps * 1000)
    return min(times)


def gemm_floor(layers: int, units: int, emb: int, vocab: int, batch: int, seq: int) -> dict[str, float]:
    """ms per step of the step's matrix products in bf16, by kind."""
    bf = torch.bfloat16
    m, g = batch * seq, 4 * units

    def mm(a: int, k: int, n: int, times: int = 1) -> float:
        x, w = torch.randn(a, k, dtype=bf), torch.randn(k, n, dtype=bf)

        def run():
            for _ in range(times):
                x @ w

        return best_ms(run, reps=max(1, 40 // times))

    parts = {"input products": 0.0, "recurrent products": 0.0, "logits products": 0.0}
    for layer in range(layers):
        width = emb if layer == 0 else units
        # forward x·W, backward dG·Wᵀ (to the layer below) and xᵀ·dG (the weights' gradient)
        parts["input products"] += mm(m, width, g) + mm(m, g, width) + mm(width, m, g)
        # the recurrent weights' gradient is one product over all steps; h·U and dG·Uᵀ are `seq` dependent ones
        parts["input products"] += mm(units, m, g)
        parts["recurrent products"] += mm(batch, units, g, times=seq) + mm(batch, g, units, times=seq)
    parts["logits products"] = mm(m, units, vocab) + mm(m, vocab, units) + mm(units, m, vocab)
    parts["total"] = sum(parts.values())
    return parts


def kernel_step(layers: int, units: int, emb: int, batch: int, seq: int):
    """One forward and backward of the fused LSTM stack alone (bf16 autocast, gradients to its input and weights),
    as a function of no arguments."""
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(emb, units, layers, batch_first=True)
    x = torch.randn(batch, seq, emb, requires_grad=True)

    def run():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            h, _ = lstm(x)
        loss = h.float().sum()
        loss.backward()
        return loss.detach()

    return run


def measure(shape: str, rounds: int, block: int) -> dict:
    corpus, layers, units, emb, dropout, batch, seq = SHAPES[shape]
    text = (DATA / corpus).read_text(encoding="utf-8")
    vocab = len(set(text))
    gemm = gemm_floor(layers, units, emb, vocab, batch, seq)
    sides = {
        "fused LSTM alone": kernel_step(layers, units, emb, batch, seq),
        "pytorch loop": torch_step(text, layers, units, emb, dropout, batch, seq, "bf16"),
        "lstmgen": lstmgen_step(text, layers, units, emb, dropout, batch, seq, "bf16"),
    }
    ms = {k: statistics.median(v) for k, v in alternate(sides, block, rounds).items()}
    torch_ms, ours, kernel = ms["pytorch loop"], ms["lstmgen"], ms["fused LSTM alone"]
    return {
        "shape": shape,
        "gemm_floor_ms": gemm,
        "kernel_floor_ms": kernel,
        "step_ms": ms,
        "lstmgen_vs_pytorch": torch_ms / ours,
        "stretch_needs_ms": torch_ms / 1.2,
        "best_possible_on_this_kernel": torch_ms / kernel,
        "best_possible_on_this_box": torch_ms / gemm["total"],
        "lstmgen_share_in_kernel": kernel / ours,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--block", type=int, default=10, help="steps per block of the alternating step timing")
    p.add_argument("--out", default=str(HERE / "results" / "ceiling.json"))
    a = p.parse_args()
    rows = []
    for shape in a.shapes:
        r = measure(shape, a.rounds, a.block)
        rows.append(r)
        g = r["gemm_floor_ms"]
        print(
            f"{shape:<6} GEMM floor {g['total']:.1f} ms (input {g['input products']:.1f}, recurrent "
            f"{g['recurrent products']:.1f}, logits {g['logits products']:.1f}) · fused LSTM alone "
            f"{r['kernel_floor_ms']:.1f} ms · PyTorch loop {r['step_ms']['pytorch loop']:.1f} ms · lstmgen "
            f"{r['step_ms']['lstmgen']:.1f} ms ({r['lstmgen_vs_pytorch']:.2f}×; the stretch needs "
            f"≤ {r['stretch_needs_ms']:.1f} ms) · the kernel alone would be {r['best_possible_on_this_kernel']:.2f}× "
            f"PyTorch's step, the GEMMs alone {r['best_possible_on_this_box']:.2f}×",
            flush=True,
        )
    from importlib.metadata import version

    save_json(
        Path(a.out),
        {
            "rounds": a.rounds,
            "block": a.block,
            "threads": torch.get_num_threads(),
            "rows": rows,
            "cpu_count": os.cpu_count(),
            "versions": {m: version(m) for m in ("torch", "keras")},
        },
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
