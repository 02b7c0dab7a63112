"""Overhead of lstmgen.EtaCallback: the same fit with and without it, in one process, alternating.

Target: < 1 % of step time. The callback is measured at its most expensive setting used in practice
(a forecast every 10 steps, each going through the full `estimate` pipeline) and at its default (epoch ends).

    python bench/bench_eta_callback.py      # ~1 min on 2 CPU cores
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lstmgen.etacallback import EtaCallback  # noqa: E402


def timed_fit(model, x, y, callbacks) -> float:
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=64, epochs=3, verbose=0, callbacks=callbacks)
    return time.perf_counter() - t0


def main() -> None:
    model = keras.Sequential([keras.Input((32, 16)), keras.layers.LSTM(64), keras.layers.Dense(16)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.rand(64 * 100, 32, 16).astype("float32")
    y = np.random.rand(64 * 100, 16).astype("float32")
    timed_fit(model, x, y, [])  # compile and warm up
    runs = {"none": [], "epoch ends": [], "every 10 steps": []}
    for _ in range(3):
        runs["none"].append(timed_fit(model, x, y, []))
        runs["epoch ends"].append(timed_fit(model, x, y, [EtaCallback(print_fn=None)]))
        runs["every 10 steps"].append(timed_fit(model, x, y, [EtaCallback(every_steps=10, print_fn=None)]))
    base = min(runs["none"])
    steps = 3 * 100
    print(f"fit of 3 epochs × 100 steps (LSTM 64), best of 3: {base:.3f} s without the callback "
          f"({base / steps * 1000:.2f} ms/step)")
    for name in ("epoch ends", "every 10 steps"):
        t = min(runs[name])
        print(f"  with EtaCallback ({name}): {t:.3f} s  ratio {t / base:.4f}  overhead {t / base - 1:+.2%}")
    cb = EtaCallback(every_steps=10, print_fn=None)  # the forecast's own cost, without fit's noise
    cb.set_params({"epochs": 50, "steps": 100})
    cb.on_train_begin()
    t0 = time.perf_counter()
    calls = 0
    for e in range(50):
        cb.on_epoch_begin(e)
        for b in range(100):
            cb.on_train_batch_end(b)
            calls += (b + 1) % 10 == 0
        cb.on_epoch_end(e)
    per = (time.perf_counter() - t0) / (calls + 50)
    print(f"  one forecast (50-epoch run, every 10 steps): {per * 1000:.3f} ms = "
          f"{per / 10 / (base / steps):.2%} of a step here when spread over 10 steps")


if __name__ == "__main__":
    main()
