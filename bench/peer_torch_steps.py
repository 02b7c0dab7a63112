"""lstmgen's training step against the PyTorch loop's, alternating in one process (the box's drift cancels out).

bench/peer_torch.py compares whole fresh processes, which on a shared 2-core box drifting by ±20 % within minutes
needs many repeats to separate 0.95× from 1.05×. Here both sides live in one process on the torch backend and run
alternating blocks of `--block` steps, in alternating order, for `--rounds` rounds; the figure is the median over
rounds of (PyTorch ms per step ÷ lstmgen ms per step), so above 1 means lstmgen is faster.

- PyTorch: bench/torchloop.py's tutorial step (random windows drawn with torch, bf16 autocast).
- lstmgen: the model, optimizer and step `lstmgen train --config cpu` builds (`setup_model`, so the fused LSTM
  kernel and the torch step seam are in), fed by its own `TrainBatches` over the same corpus, each step through
  Keras' compiled train function. Not included: `fit`'s callbacks and progress (bench/peer_torch.py has them).

    KERAS_BACKEND=torch python bench/peer_torch_steps.py                  # all shapes, bf16
    python bench/peer_torch_steps.py --shapes naive --rounds 10
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
REPO = HERE.parent
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from report import save_json  # noqa: E402
from torchloop import SHAPES, torch_step  # noqa: E402


def lstmgen_step(
    text: str,
    layers: int,
    units: int,
    emb: int,
    dropout: float,
    batch: int,
    seq: int,
    precision: str,
    prepare=None,
    **overrides,
):
    """lstmgen's training step as a function of no arguments; `prepare(model)`, if given, runs on the compiled
    model before its train function is made (bench/adam_cost.py swaps the optimizer's update there)."""
    from lstmgen.config import make_config
    from lstmgen.data.prepare import encode_corpus
    from lstmgen.training.batches import TrainBatches
    from lstmgen.training.setup import setup_model

    vocab, ids = encode_corpus(text)
    cfg = make_config(
        "cpu",
        {
            "layers": layers,
            "units": units,
            "embedding_dim": emb,
            "dropout": dropout,
            "batch_size": batch,
            "seq_len": seq,
            "mixed_precision": "bf16" if precision == "bf16" else "off",
            **overrides,
        },
    )
    batches = TrainBatches(ids, seq, batch, seed=1, steps=10**6)
    model = setup_model(cfg, vocab.size, total_steps=10**6, seed=1).model
    if prepare is not None:
        prepare(model)
    model.make_train_function()
    n = [0]

    def step():
        x, y = batches[n[0] % len(batches)]
        n[0] += 1
        return model.train_function([(x, y)])["loss"]

    return step


def alternate(sides: dict, block: int, rounds: int) -> dict[str, list[float]]:
    """ms per step of each side's `step()`, in blocks of `block` steps, the sides alternating and their order
    reversed every other round, after 5 warm-up steps each."""
    for step in sides.values():
        for _ in range(5):
            float(step())
    ms: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(rounds):
        for k in list(sides)[:: 1 if r % 2 == 0 else -1]:
            t0 = time.perf_counter()
            for _ in range(block):
                loss = sides[k]()
            float(loss)
            ms[k].append((time.perf_counter() - t0) / block * 1000)
    return ms


def compare(shape: str, precision: str, block: int, rounds: int) -> dict:
    corpus, layers, units, emb, dropout, batch, seq = SHAPES[shape]
    text = (DATA / corpus).read_text(encoding="utf-8")
    sides = {
        "pytorch loop": torch_step(text, layers, units, emb, dropout, batch, seq, precision),
        "lstmgen": lstmgen_step(text, layers, units, emb, dropout, batch, seq, precision),
    }
    ms = alternate(sides, block, rounds)
    ratios = [p / q for p, q in zip(ms["pytorch loop"], ms["lstmgen"], strict=True)]
    return {
        "shape": shape,
        "precision": precision,
        "ms_per_step": ms,
        "median_ms": {k: statistics.median(v) for k, v in ms.items()},
        "ratio": statistics.median(ratios),
        "ratio_quartiles": statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--precisions", nargs="+", default=["bf16"], choices=["bf16", "f32"])
    p.add_argument("--block", type=int, default=10, help="steps per block")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--out", default=str(HERE / "results" / "peer_torch_steps.json"))
    a = p.parse_args()
    rows = []
    for shape in a.shapes:
        for precision in a.precisions:
            r = compare(shape, precision, a.block, a.rounds)
            rows.append(r)
            q = r["ratio_quartiles"]
            print(
                f"{shape:<6} {precision:<5} PyTorch {r['median_ms']['pytorch loop']:.1f} ms/step, lstmgen "
                f"{r['median_ms']['lstmgen']:.1f}: lstmgen {r['ratio']:.3f}× the PyTorch loop's speed "
                f"(quartiles {q[0]:.3f}–{q[-1]:.3f})",
                flush=True,
            )
    from importlib.metadata import version

    save_json(
        Path(a.out),
        {
            "block": a.block,
            "rounds": a.rounds,
            "rows": rows,
            "cpu_count": os.cpu_count(),
            "versions": {m: version(m) for m in ("torch", "keras")},
        },
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
