"""lstmgen training chars/s on a GPU next to a raw cuDNN `torch.nn.LSTM` loop with the same shapes, in one run.

Reference: a minimal PyTorch loop — nn.Embedding → nn.LSTM(num_layers, batch_first; cuDNN on CUDA) → nn.Linear,
cross-entropy at every position, Adam (fused on CUDA), global-norm clipping — over random batches already on
the device (an upper bound: no data pipeline). lstmgen: the real `lstmgen train` CLI in a fresh process under
each Keras backend given (KERAS_BACKEND=jax / torch), same shapes, same precision, rate read from train.log's
steady state (bench/clirate.py). Shapes are LAYERSxUNITS:BATCHxSEQ.

Target (issue #5): lstmgen ≥ 0.9× the raw loop for 2x512:128x128 and 3x1024:256x256 on an H100-class GPU.

    python bench/gpu_vs_cudnn.py                                    # both shapes, float32 and bf16, jax + torch
    python bench/gpu_vs_cudnn.py --shapes 1x64:8x32 --steps 20     # tiny: checks the script (runs on a CPU)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from clirate import train_chars_per_s  # noqa: E402
from report import save_json  # noqa: E402

VOCAB_TEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\n"


def parse_shape(s: str) -> dict:
    model, data = s.split(":")
    layers, units = map(int, model.split("x"))
    batch, seq = map(int, data.split("x"))
    return {"layers": layers, "units": units, "batch": batch, "seq": seq}


def torch_reference(shape: dict, vocab: int, emb_dim: int, precision: str, steps: int, warmup: int) -> float:
    """Chars/s of the raw PyTorch loop (cuDNN LSTM on CUDA)."""
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    emb = torch.nn.Embedding(vocab, emb_dim).to(dev)
    lstm = torch.nn.LSTM(emb_dim, shape["units"], num_layers=shape["layers"], batch_first=True).to(dev)
    head = torch.nn.Linear(shape["units"], vocab).to(dev)
    params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=2e-3, fused=dev == "cuda")
    data = torch.randint(vocab, (8, shape["batch"], shape["seq"] + 1), device=dev)

    def step(i):
        batch = data[i % len(data)]
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out, _ = lstm(emb(batch[:, :-1]))
            logits = head(out)
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, vocab), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    for i in range(warmup):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    sync()
    return steps * shape["batch"] * shape["seq"] / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", default="2x512:128x128,3x1024:256x256")
    p.add_argument("--backends", default="jax,torch")
    p.add_argument("--precisions", default="off,bf16", help="off = float32; bf16 = mixed bfloat16 on both sides")
    p.add_argument("--embedding-dim", type=int, default=128)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--out", default=str(HERE / "results" / "gpu_vs_cudnn.json"))
    a = p.parse_args()
    vocab = len(VOCAB_TEXT)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        for shape in map(parse_shape, a.shapes.split(",")):
            # enough text for 2 epochs of warmup + steps without repeating a window
            need = 2 * (a.steps + a.warmup) * shape["batch"] * (shape["seq"] + 1) * 12 // 10
            corpus = Path(tmp) / f"corpus_{shape['batch']}_{shape['seq']}.txt"
            import numpy as np

            ids = np.random.default_rng(0).integers(0, vocab, need)
            corpus.write_text("".join(VOCAB_TEXT[i] for i in ids), encoding="utf-8")
            for precision in a.precisions.split(","):
                ref = torch_reference(shape, vocab, a.embedding_dim, precision, a.steps, a.warmup)
                row = {**shape, "precision": precision, "torch_cudnn_chars_per_s": ref}
                for backend in a.backends.split(","):
                    opts = [
                        "--layers",
                        str(shape["layers"]),
                        "--units",
                        str(shape["units"]),
                        "--embedding-dim",
                        str(a.embedding_dim),
                        "--mixed-precision",
                        precision,
                        "--val-fraction",
                        "0.01",
                        "--clipnorm",
                        "1.0",
                        "--seed",
                        "1",
                    ]
                    rate = train_chars_per_s(
                        corpus, opts, shape["batch"], shape["seq"], a.steps, a.warmup, env={"KERAS_BACKEND": backend}
                    )
                    row[f"lstmgen_{backend}_chars_per_s"] = rate
                    row[f"lstmgen_{backend}_ratio"] = rate / ref
                rows.append(row)
                print(
                    f"{shape['layers']}x{shape['units']} b{shape['batch']} s{shape['seq']} {precision:<5} "
                    f"torch cuDNN {ref:>12,.0f} chars/s  "
                    + "  ".join(
                        f"{b} {row[f'lstmgen_{b}_chars_per_s']:>12,.0f} ({row[f'lstmgen_{b}_ratio']:.2f}×)"
                        for b in a.backends.split(",")
                    ),
                    flush=True,
                )
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (no CUDA: not the benchmark)"
    print(f"device: {device}; target: lstmgen ≥ 0.9× the raw loop")
    save_json(Path(a.out), {"device": device, "rows": rows})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
