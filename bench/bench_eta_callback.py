"""Overhead of lstmgen.EtaCallback during a real `model.fit`: the time fit spends inside the callback.

Target: < 1 % of step time. Keras runs a callback's hooks on fit's own thread, between steps, so the time spent
inside them is time added to the run. Each hook is timed (perf_counter around it, which only adds to the
figure) during real fits, and divided by the fit's wall time. A plain with/without comparison of wall times
is printed too, alternating in one process, but on a shared machine its noise (±several %) is larger than
what it measures, so it is not the headline figure.

Settings: the default (epoch ends only: no per-step hook, so Keras 3 keeps its asynchronous batch dispatch)
and a forecast every 10 steps (each through the full `estimate` pipeline).

    python bench/bench_eta_callback.py      # ~1 min on 2 CPU cores; writes bench/results/eta_callback_<backend>.json
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lstmgen.training.etacallback import EtaCallback  # noqa: E402
from report import save_json  # noqa: E402

EPOCHS, STEPS, BATCH = 3, 100, 64


class TimedEta(EtaCallback):
    """EtaCallback with a stopwatch around every hook fit calls."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.inside = 0.0
        self.calls = 0
        for name in ("on_train_begin", "on_epoch_begin", "on_epoch_end") + (
            ("on_train_batch_end",) if self.every_steps else ()
        ):
            setattr(self, name, self._timed(getattr(self, name)))

    def _timed(self, fn):
        def hook(*a, **kw):
            t0 = time.perf_counter()
            fn(*a, **kw)
            self.inside += time.perf_counter() - t0
            self.calls += 1

        return hook


def timed_fit(model, x, y, callbacks) -> float:
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, verbose=0, callbacks=callbacks)
    return time.perf_counter() - t0


def main() -> None:
    model = keras.Sequential([keras.Input((32, 16)), keras.layers.LSTM(64), keras.layers.Dense(16)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.rand(BATCH * STEPS, 32, 16).astype("float32")
    y = np.random.rand(BATCH * STEPS, 16).astype("float32")
    timed_fit(model, x, y, [])  # compile and warm up
    settings = {"epoch ends": {}, "every 10 steps": {"every_steps": 10}}
    wall = {"none": [], **{k: [] for k in settings}}
    inside = {k: [] for k in settings}
    for _ in range(5):
        wall["none"].append(timed_fit(model, x, y, []))
        for name, kw in settings.items():
            cb = TimedEta(print_fn=None, **kw)
            wall[name].append(timed_fit(model, x, y, [cb]))
            inside[name].append(cb.inside / wall[name][-1])
    base = statistics.median(wall["none"])
    step_ms = base / (EPOCHS * STEPS) * 1000
    print(
        f"fit of {EPOCHS} epochs × {STEPS} steps (LSTM 64, {keras.backend.backend()}), median of 5: "
        f"{base:.3f} s without the callback ({step_ms:.2f} ms/step)"
    )
    result = {
        "backend": keras.backend.backend(),
        "epochs": EPOCHS,
        "steps": STEPS,
        "step_ms": step_ms,
        "fit_s_without": wall["none"],
        "settings": {},
    }
    for name in settings:
        share = max(inside[name])
        ab = statistics.median(wall[name]) / base - 1
        print(
            f"  EtaCallback ({name}): time inside the callback {share:.3%} of the fit (worst of 5); "
            f"with/without wall-time difference {ab:+.2%} (noise)"
        )
        result["settings"][name] = {
            "inside_share_worst": share,
            "inside_share_all": inside[name],
            "fit_s_with": wall[name],
            "wall_difference_median": ab,
        }
    out = REPO / "bench" / "results" / f"eta_callback_{keras.backend.backend()}.json"
    save_json(out, result, indent=1)


if __name__ == "__main__":
    main()
