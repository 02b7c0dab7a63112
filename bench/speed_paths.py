"""CPU speed paths side by side: float32 vs mixed_bfloat16, XLA on vs off, steps_per_execution, thread count,
for the CPU default model shape.

This is the measurement behind the CPU defaults: lstmgen.runtime.backend's `auto` choices (bf16 where the CPU has native
bf16, XLA off on the TensorFlow CPU path, threads = CPUs - 1 on a TensorFlow CPU) and steps_per_execution 1. The
precision/XLA and steps_per_execution rows are timed in one process over the same random batches; each thread
count runs in its own process (TensorFlow fixes its pool at start-up), with the auto precision. Times are between
batch ends, so fit's iterator teardown is excluded. Whether bf16 trains as well as float32 is
bench/precision_quality.py's question.

    python bench/speed_paths.py                 # 2 x 256, batch 32 x 64 (the CPU default), ~3 min
    python bench/speed_paths.py --units 128 --batch-size 64 --seq-len 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from lstmgen.config import Config
from lstmgen.runtime.backend import keras
from lstmgen.training.model import build_model, compile_model
from report import save_json


class BatchClock(keras.callbacks.Callback):
    """Times between batch ends. Timing a whole fit() call would include the tf.data iterator teardown, which
    under TensorFlow can wait seconds for the autotune thread (see backend.fit_input)."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def time_path(cfg: Config, vocab: int, policy: str, jit: bool, steps: int) -> float:
    """Seconds per training step between the first and the last batch end (compilation excluded)."""
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = compile_model(build_model(cfg, vocab), cfg, total_steps=1000, jit_compile=jit)
    rng = np.random.default_rng(0)
    steps += -steps % cfg.steps_per_execution
    warm = 3 * cfg.steps_per_execution
    x = rng.integers(0, vocab, (cfg.batch_size * (steps + warm), cfg.seq_len)).astype("int32")
    y = rng.integers(0, vocab, x.shape).astype("int32")
    n = cfg.batch_size * warm
    model.fit(x[:n], y[:n], batch_size=cfg.batch_size, verbose=0)  # trace/compile
    clock = BatchClock()
    model.fit(x[n:], y[n:], batch_size=cfg.batch_size, verbose=0, callbacks=[clock])
    ends = clock.ends  # one entry per compiled call (steps_per_execution steps)
    return (ends[-1] - ends[0]) / (steps - cfg.steps_per_execution)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--vocab", type=int, default=65)
    ap.add_argument("--threads", default="1,2,0", help="thread counts to time (0: auto, what lstmgen picks)")
    ap.add_argument("--out", default="bench/results/speed_paths.json")
    ap.add_argument("--one-thread-count", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    cfg = Config(layers=args.layers, units=args.units, batch_size=args.batch_size, seq_len=args.seq_len)
    if args.one_thread_count is not None:  # child process: one thread count, auto precision
        from lstmgen.runtime import backend

        said = backend.set_threads(args.one_thread_count)
        policy = backend.set_precision("auto")
        print(json.dumps({"threads": said, "seconds_per_step": time_path(cfg, args.vocab, policy, False, args.steps)}))
        return
    rows = []
    print(
        f"{args.layers} x LSTM({args.units}), batch {args.batch_size} x {args.seq_len}, "
        f"Keras {keras.__version__} on {keras.backend.backend()}"
    )
    print(f"{'precision':<16}{'XLA':<6}{'ms/step':>9}{'chars/s':>10}{'vs float32':>12}")
    base = None
    for policy, jit in (("float32", False), ("float32", True), ("mixed_bfloat16", False), ("mixed_bfloat16", True)):
        s = time_path(cfg, args.vocab, policy, jit, args.steps)
        base = base or s
        rows.append(
            {
                "precision": policy,
                "jit_compile": jit,
                "seconds_per_step": s,
                "chars_per_second": cfg.batch_size * cfg.seq_len / s,
                "speedup_vs_float32": base / s,
            }
        )
        print(f"{policy:<16}{jit!s:<6}{s * 1000:9.1f}{cfg.batch_size * cfg.seq_len / s:10,.0f}{base / s:11.2f}x")
    from lstmgen.runtime.backend import bf16_capable

    auto = "mixed_bfloat16" if bf16_capable() else "float32"
    print(f"\nsteps_per_execution ({auto}, XLA off){'ms/step':>12}{'chars/s':>10}{'vs 1':>8}")
    spe_base = None
    for spe in (1, 4, 16):
        s = time_path(Config(**{**cfg.resolved(), "steps_per_execution": spe}), args.vocab, auto, False, args.steps)
        spe_base = spe_base or s
        rows.append(
            {
                "precision": auto,
                "jit_compile": False,
                "steps_per_execution": spe,
                "seconds_per_step": s,
                "chars_per_second": cfg.batch_size * cfg.seq_len / s,
                "speedup_vs_spe1": spe_base / s,
            }
        )
        print(f"{spe:<36}{s * 1000:9.1f}{cfg.batch_size * cfg.seq_len / s:10,.0f}{spe_base / s:7.2f}x")
    print(f"\nthreads ({auto}, own process each){'ms/step':>14}{'chars/s':>10}")
    for n in (int(t) for t in args.threads.split(",")):
        cmd = [
            sys.executable,
            __file__,
            "--one-thread-count",
            str(n),
            "--layers",
            str(args.layers),
            "--units",
            str(args.units),
            "--batch-size",
            str(args.batch_size),
            "--seq-len",
            str(args.seq_len),
            "--steps",
            str(args.steps),
            "--vocab",
            str(args.vocab),
        ]
        out = json.loads(
            subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ)
            .stdout.strip()
            .splitlines()[-1]
        )
        s = out["seconds_per_step"]
        rows.append(
            {
                "precision": auto,
                "threads_setting": n,
                "threads": out["threads"],
                "seconds_per_step": s,
                "chars_per_second": cfg.batch_size * cfg.seq_len / s,
            }
        )
        print(
            f"--threads {n:<3} ({out['threads']}){'':<{max(0, 22 - len(out['threads']))}}{s * 1000:9.1f}"
            f"{cfg.batch_size * cfg.seq_len / s:10,.0f}"
        )
    import pathlib

    save_json(pathlib.Path(args.out), {"config": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
