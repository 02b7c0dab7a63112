"""CPU speed paths side by side: float32 vs mixed_bfloat16, XLA on vs off, for the CPU default model shape.

This is the measurement behind lstmgen.backend's `auto` choices (bf16 where the CPU has native bf16, XLA off
on the TensorFlow CPU path). Each row is timed in the same process over the same random batches.

    python bench/speed_paths.py                 # 2 x 256, batch 32 x 64 (the CPU default), ~2 min
    python bench/speed_paths.py --units 128 --batch-size 64 --seq-len 100
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from lstmgen.backend import keras
from lstmgen.config import Config
from lstmgen.model import build_model, compile_model


def time_path(cfg: Config, vocab: int, policy: str, jit: bool, steps: int) -> float:
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = compile_model(build_model(cfg, vocab), cfg, total_steps=1000, jit_compile=jit)
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab, (cfg.batch_size * (steps + 3), cfg.seq_len)).astype("int32")
    y = rng.integers(0, vocab, x.shape).astype("int32")
    n = cfg.batch_size * 3
    model.fit(x[:n], y[:n], batch_size=cfg.batch_size, verbose=0)  # trace/compile
    t0 = time.perf_counter()
    model.fit(x[n:], y[n:], batch_size=cfg.batch_size, verbose=0)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--vocab", type=int, default=65)
    ap.add_argument("--out", default="bench/results/speed_paths.json")
    args = ap.parse_args()
    cfg = Config(layers=args.layers, units=args.units, batch_size=args.batch_size, seq_len=args.seq_len)
    rows = []
    print(f"{args.layers} x LSTM({args.units}), batch {args.batch_size} x {args.seq_len}, "
          f"Keras {keras.__version__} on {keras.backend.backend()}")
    print(f"{'precision':<16}{'XLA':<6}{'ms/step':>9}{'chars/s':>10}{'vs float32':>12}")
    base = None
    for policy, jit in (("float32", False), ("float32", True), ("mixed_bfloat16", False), ("mixed_bfloat16", True)):
        s = time_path(cfg, args.vocab, policy, jit, args.steps)
        base = base or s
        rows.append({"precision": policy, "jit_compile": jit, "seconds_per_step": s,
                     "chars_per_second": cfg.batch_size * cfg.seq_len / s, "speedup_vs_float32": base / s})
        print(f"{policy:<16}{str(jit):<6}{s * 1000:9.1f}{cfg.batch_size * cfg.seq_len / s:10,.0f}{base / s:11.2f}x")
    import pathlib

    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps({"config": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
