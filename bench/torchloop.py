"""The PyTorch loop a user would write instead of lstmgen: the ~40-line tutorial, shared by bench/peer_torch.py
(a fresh process per measurement: `python bench/torchloop.py CORPUS LAYERS UNITS EMB DROPOUT BATCH SEQ PRECISION
STEPS WARMUP` prints {"chars_per_s": …}) and bench/peer_torch_steps.py (in one process with lstmgen's step).

`nn.Embedding → nn.LSTM(num_layers, dropout) → Dropout → nn.Linear`, Adam, global-norm clipping at 5, random
windows of the corpus, float32 or bfloat16 autocast (oneDNN's fused LSTM on a CPU)."""

from __future__ import annotations

import json
import sys
import time

import torch
import torch.nn as nn

SHAPES = {  # name: (corpus, layers, units, embedding, dropout, batch, seq)
    "cpu": ("tinyshakespeare.txt", 2, 256, 64, 0.2, 32, 64),
    "naive": ("warandpeace.txt", 1, 128, 50, 0.0, 128, 100),
    "2x512": ("tinyshakespeare.txt", 2, 512, 64, 0.2, 32, 64),
}


def torch_step(text: str, layers: int, units: int, emb: int, dropout: float, batch: int, seq: int, precision: str):
    """One training step of the tutorial loop on `text`, as a function of no arguments."""
    chars = sorted(set(text))
    lut = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([lut[c] for c in text], dtype=torch.long)
    vocab = len(chars)

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab, emb)
            self.lstm = nn.LSTM(emb, units, layers, dropout=dropout if layers > 1 else 0.0, batch_first=True)
            self.drop = nn.Dropout(dropout)
            self.out = nn.Linear(units, vocab)

        def forward(self, x):
            h, _ = self.lstm(self.emb(x))
            return self.out(self.drop(h))

    torch.manual_seed(1)
    model = CharLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=4e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        starts = torch.randint(0, len(ids) - seq - 1, (batch,))
        w = ids[starts[:, None] + torch.arange(seq + 1)]
        x, y = w[:, :-1], w[:, 1:]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = model(x)
        loss = loss_fn(logits.float().reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return loss.detach()

    return step


def main() -> None:
    corpus, layers, units, emb, dropout, batch, seq, precision, steps, warmup = sys.argv[1:]
    step = torch_step(
        open(corpus, encoding="utf-8").read(),
        int(layers),
        int(units),
        int(emb),
        float(dropout),
        int(batch),
        int(seq),
        precision,
    )
    for _ in range(int(warmup)):
        step()
    t0 = time.perf_counter()
    for _ in range(int(steps)):
        loss = step()
    float(loss)
    print(json.dumps({"chars_per_s": int(steps) * int(batch) * int(seq) / (time.perf_counter() - t0)}))


if __name__ == "__main__":
    main()
