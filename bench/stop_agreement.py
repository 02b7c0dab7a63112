"""Cost of the stop agreement of a multi-process job (lstmgen/stopping.py): one tiny all-gather across processes.

Starts PROCESSES JAX processes on 127.0.0.1 forming one job; each times CALLS agreements (StopFlag.agree with
now=True, so every call runs the all-gather; in training it runs only about every AGREE_SECONDS) after a warm-up
that compiles the all-gather, and for scale, CALLS steps of a tiny data-parallel training step of the same
job (the --units 16 test model: far cheaper than any real model, so the share is an upper bound).

    KERAS_BACKEND=jax python bench/stop_agreement.py              # 2 processes, 300 calls
    KERAS_BACKEND=jax python bench/stop_agreement.py --calls 1000

Prints one line per process: median and 90th percentile of one agreement and of one training step, in ms.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def worker(pid: int, processes: int, port: int, calls: int) -> None:
    sys.path.insert(0, str(REPO))
    import numpy as np

    from lstmgen.config import make_config
    from lstmgen.training import distribute
    from lstmgen.training.job import join_job
    from lstmgen.training.stopping import StopFlag

    cfg = make_config(
        None,
        {
            "num_processes": processes,
            "process_id": pid,
            "coordinator": f"127.0.0.1:{port}",
            "units": 16,
            "layers": 1,
            "embedding_dim": 8,
            "seq_len": 16,
            "batch_size": 8,
            "dropout": 0.0,
            "mixed_precision": "off",
        },
    )
    job = join_job(cfg)
    stop = StopFlag(job)
    for _ in range(10):
        stop.agree(budget_spent=False, now=True)
    agree = []
    for _ in range(calls):
        t0 = time.perf_counter()
        stop.agree(budget_spent=False, now=True)
        agree.append(time.perf_counter() - t0)

    from lstmgen.runtime.backend import keras
    from lstmgen.training.model import build_model, compile_model

    plan = distribute.setup(cfg, job)
    with plan.scope():
        model = build_model(cfg, 40)
        compile_model(model, cfg, total_steps=calls, jit_compile="auto")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 40, (calls + 10, cfg.batch_size // processes, cfg.seq_len), dtype=np.int32)
    y = rng.integers(0, 40, (calls + 10, cfg.batch_size // processes, cfg.seq_len), dtype=np.int32)

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.t = [], None

        def on_train_batch_begin(self, batch, logs=None):
            self.t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])  # wait for the step
            self.times.append(time.perf_counter() - self.t)

    timer = Timer()

    def batches():
        for i in range(calls + 10):
            yield x[i], y[i]

    model.fit(batches(), steps_per_epoch=calls + 10, epochs=1, verbose=0, callbacks=[timer])
    steps = timer.times[10:]

    def ms(values, q):
        return 1000 * statistics.quantiles(values, n=10)[q] if q < 9 else 1000 * max(values)

    print(
        f"process {pid}: agreement median {1000 * statistics.median(agree):.3f} ms, p90 {ms(agree, 8):.3f} ms; "
        f"tiny training step median {1000 * statistics.median(steps):.3f} ms, p90 {ms(steps, 8):.3f} ms "
        f"({calls} calls)",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--worker", type=int, default=-1, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker >= 0:
        worker(a.worker, a.processes, a.port, a.calls)
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                str(i),
                "--port",
                str(port),
                "--processes",
                str(a.processes),
                "--calls",
                str(a.calls),
            ],
            env=env,
        )
        for i in range(a.processes)
    ]
    sys.exit(max(p.wait() for p in procs))


if __name__ == "__main__":
    main()
