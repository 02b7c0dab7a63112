"""Steady-state training chars/s of the real `lstmgen train` CLI, read from its train.log (shared by benches)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROGRESS = re.compile(r"epoch 2/2 step (\d+)/\d+ loss \S+ elapsed ([\d.]+)s")


def train_chars_per_s(
    corpus: Path, options: list[str], batch_size: int, seq_len: int, steps: int, warmup: int, env: dict | None = None
) -> float:
    """Run `lstmgen train CORPUS OPTIONS` for 2 epochs of warmup + steps steps in a fresh process; return the
    chars/s between the first and last progress lines of epoch 2 (tracing, validation and epoch ends excluded)."""
    with tempfile.TemporaryDirectory(prefix="bench_clirate_") as tmp:
        run = Path(tmp) / "run"
        cmd = [
            sys.executable,
            "-m",
            "lstmgen",
            "train",
            str(corpus),
            *options,
            "-o",
            str(run),
            "-q",
            "--epochs",
            "2",
            "--steps-per-epoch",
            str(warmup + steps),
            "--log-every-steps",
            str(warmup),
            "--batch-size",
            str(batch_size),
            "--seq-len",
            str(seq_len),
            "--sample-every-epochs",
            "0",
        ]
        subprocess.run(cmd, check=True, cwd=REPO, env={**os.environ, **(env or {})})
        marks = [(int(s), float(e)) for s, e in PROGRESS.findall((run / "train.log").read_text())]
    (s0, e0), (s1, e1) = marks[0], marks[-1]
    return (s1 - s0) * batch_size * seq_len / (e1 - e0)
