"""Generation speed per Keras backend and engine: chars/s for 1 and 64 streams, in one run.

Each backend installed (tensorflow, jax, torch) runs in its own process (KERAS_BACKEND is fixed at import) and
times both engines of `lstmgen generate` on the same weights: `numpy` (sample.StepModel) and `keras`
(devicestep.DeviceStepModel, the backend's compiled step on its default device). Timing covers the sampling loop
only (prime and warm-up excluded), median of --repeats. The model is the CPU default shape (2 × 256, vocab 65)
unless --layers/--units say otherwise; weights are random (speed does not depend on them).
The table ends with what `--engine auto` picks on this machine and whether that was the fastest measured.
Under torch a third engine, `fused`, steps the same weights with the fused kernel training uses on a CPU
(torch._VF.lstm, oneDNN, one time step per call): generation keeps the NumPy engine unless this is faster (issue 15).

    python bench/bench_generate.py
    python bench/bench_generate.py --layers 3 --units 1024 --backends jax,torch   # the GPU model shape
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from report import save_json

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


class FusedStep:
    """One character per call through torch._VF.lstm (the fused kernel of lstmgen/runtime/fused.py), no autograd."""

    def __init__(self, model):
        import torch

        from lstmgen.runtime.backend import keras
        from lstmgen.training.model import lstm_layers

        def t(v):
            return torch.as_tensor(keras.ops.convert_to_numpy(v).astype(np.float32))

        self.torch = torch
        self.embedding = t(model.get_layer("embedding").embeddings)
        self.cells = []
        for layer in lstm_layers(model):
            k, r, b = (t(w) for w in (layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias))
            self.cells.append([k.T.contiguous(), r.T.contiguous(), b, torch.zeros_like(b)])
        self.dense_kernel, self.dense_bias = t(model.get_layer("logits").kernel), t(model.get_layer("logits").bias)
        self.units = [c[1].shape[1] for c in self.cells]
        self.vocab_size = self.dense_kernel.shape[1]

    def zero_state(self, batch: int) -> list:
        return [(self.torch.zeros(1, batch, u), self.torch.zeros(1, batch, u)) for u in self.units]

    def step(self, ids, state):
        torch = self.torch
        with torch.no_grad():
            x = self.embedding[torch.as_tensor(ids)][:, None, :]
            new = []
            for params, (h, c) in zip(self.cells, state, strict=True):
                x, h, c = torch._VF.lstm(x, (h, c), params, True, 1, 0.0, False, False, True)
                new.append((h, c))
            return (x[:, 0] @ self.dense_kernel + self.dense_bias).numpy(), new


def worker(a) -> dict:
    from lstmgen.config import Config
    from lstmgen.generation.devicestep import DeviceStepModel, pick_engine
    from lstmgen.generation.sample import Sampling, StepModel, generate_ids
    from lstmgen.runtime.backend import NAME, describe, keras
    from lstmgen.training.model import build_model

    keras.utils.set_random_seed(1)
    keras_model = build_model(Config(layers=a.layers, units=a.units), a.vocab)
    numpy_model = StepModel.from_keras(keras_model)
    engines = {"numpy": numpy_model, "keras": DeviceStepModel(numpy_model)}
    if NAME == "torch":
        engines["fused"] = FusedStep(keras_model)
    prime = np.array([1, 2, 3])
    out = {"backend": NAME, "device": describe(), "auto": pick_engine("auto"), "rates": {}}
    for name, model in engines.items():
        if name == "fused":  # the same logits as the NumPy engine, to float rounding: it is the same model
            state_a, state_b = numpy_model.zero_state(2), model.zero_state(2)
            for ids in ([1, 2], [3, 4]):
                (la, state_a), (lb, state_b) = numpy_model.step(np.array(ids), state_a), model.step(ids, state_b)
            np.testing.assert_allclose(la, lb, atol=2e-4)
        for streams in a.streams:
            chars = a.chars if streams == 1 else max(a.chars // 4, 200)
            for _ in generate_ids(model, prime, 30, streams, Sampling(), seed=0):  # warm-up / compile
                pass
            rates = []
            for r in range(a.repeats):
                t0 = time.perf_counter()
                n = sum(1 for _ in generate_ids(model, prime, chars, streams, Sampling(temperature=1.0), seed=r))
                rates.append(n * streams / (time.perf_counter() - t0))
            out["rates"][f"{name}/{streams}"] = statistics.median(rates)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default="tensorflow,jax,torch")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--streams", default="1,64")
    p.add_argument("--chars", type=int, default=2000, help="characters per stream for 1 stream (÷4 for more)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(HERE / "results" / "generate.json"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    a.streams = [int(s) for s in a.streams.split(",")]
    if a.worker:
        print(json.dumps(worker(a)))
        return
    results = []
    for backend in a.backends.split(","):
        if not importlib.util.find_spec(backend):
            print(f"{backend}: not installed, skipped")
            continue
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--layers",
            str(a.layers),
            "--units",
            str(a.units),
            "--vocab",
            str(a.vocab),
            "--streams",
            ",".join(map(str, a.streams)),
            "--chars",
            str(a.chars),
            "--repeats",
            str(a.repeats),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": backend})
        if proc.returncode:
            print(f"{backend}: failed\n{proc.stderr[-2000:]}")
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"\ngeneration chars/s, {a.layers} × {a.units} LSTM, vocab {a.vocab}")
    names = ("numpy", "keras", "fused")
    print(
        f"{'backend':<11} {'device':<34} "
        + " ".join(f"{e + ' ' + str(s):>12}" for e in names for s in a.streams)
        + "  auto picks"
    )
    for r in results:
        cells = " ".join(
            f"{r['rates'][f'{e}/{s}']:>12,.0f}" if f"{e}/{s}" in r["rates"] else f"{'-':>12}"
            for e in names
            for s in a.streams
        )
        fastest = {
            s: max((e for e in names if f"{e}/{s}" in r["rates"]), key=lambda e: r["rates"][f"{e}/{s}"])
            for s in a.streams
        }
        verdict = ", ".join(
            f"{s}: {'fastest' if fastest[s] == r['auto'] else 'slower than ' + fastest[s]}" for s in a.streams
        )
        print(f"{r['backend']:<11} {r['device']:<34} {cells}  {r['auto']} ({verdict})")
    save_json(Path(a.out), {"layers": a.layers, "units": a.units, "vocab": a.vocab, "results": results})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
