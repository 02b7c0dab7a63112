"""Samples to judge, read from a file or generated, and how much of them is copied (and, for Reber, valid)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from lstmgen.data import reber
from lstmgen.data.prepared import Prepared
from lstmgen.data.vocab import Vocab
from lstmgen.evaluation.novelty import CorpusIndex, novelty, pool
from lstmgen.generation.sample import Sampling, check_generation
from lstmgen.util.limits import SAMPLES_BYTES
from lstmgen.util.output import current

REBER_VOCAB = set(reber.ALPHABET + "\n")
SAMPLE_HEADER = re.compile(r"^--- sample \d+/\d+ ---\n", re.M)  # what `lstmgen generate --num-samples N` prints
REFERENCE_CHARS = 20_000  # at most this much held-out text is measured as the novelty reference


def read_samples(path: str, vocab: Vocab) -> list[str]:
    """Samples from a file: `generate --json` output, `generate --num-samples N` output, or one plain text."""
    from lstmgen.data.sources import read_sources

    text, _ = read_sources([path], bound=(SAMPLES_BYTES, "--samples", "evaluate fewer or shorter samples"))
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("samples"), list):
        prime = obj.get("prime") or ""
        return [s[len(prime) :] if prime and s.startswith(prime) else s for s in map(str, obj["samples"])]
    parts = SAMPLE_HEADER.split(text)
    if len(parts) > 1:
        return [p[:-1] if p.endswith("\n") else p for p in parts[1:]]
    return [text]


def generate_samples(
    model_path: Path, vocab: Vocab, n: int, length: int, temperature: float, seed: int | None
) -> list[str]:
    from lstmgen.generation.sample import generate_text
    from lstmgen.generation.weights import read_step_model
    from lstmgen.runtime.hardware import memory_bytes
    from lstmgen.training.epoch_report import sample_prime

    step_model = read_step_model(model_path)  # h5py only: `eval --no-loss` never imports TensorFlow
    check_generation(step_model, n, length, memory_bytes())
    with current().bar(total=length, desc="generating", unit="char") as bar:
        return generate_text(
            step_model,
            vocab.decode,
            sample_prime(vocab),
            length,
            n,
            Sampling(temperature=temperature).check(),
            seed,
            on_step=lambda ids: bar.update(1),
        )


def novelty_report(samples: list[str], data: Prepared, ngram: int) -> dict:
    t0 = time.monotonic()
    index = CorpusIndex(np.asarray(data.train))
    current().detail(f"suffix array over {index.n:,} training characters built in {time.monotonic() - t0:.1f}s")
    vocab = data.vocab
    per_sample = []
    with current().bar(total=len(samples), desc="novelty", unit="sample") as bar:
        for text in samples:
            ids = np.array([vocab.index.get(c, -1) for c in text], dtype=np.int64)
            r = novelty(index, np.maximum(ids, 0), ngram, known=ids >= 0)
            r["longest_copy_text"] = text[r["longest_copy_start"] : r["longest_copy_start"] + r["longest_copy"]]
            per_sample.append(r)
            bar.update(1)
    total = sum(len(s) for s in samples)
    ref_ids = np.asarray(data.val[: min(max(total, 1000), REFERENCE_CHARS)])
    reference = novelty(index, ref_ids, ngram) if ref_ids.size else None
    return {
        "ngram": ngram,
        **pool(per_sample),
        "per_sample": per_sample,
        "reference_validation_text": reference,
        "train_chars": index.n,
    }


def reber_report(samples: list[str], generated: bool) -> dict:
    """Valid embedded Reber strings among the complete lines (a generated sample's last line may be cut off)."""
    lines = []
    for s in samples:
        parts = s.split("\n")
        if generated and not s.endswith("\n"):
            parts = parts[:-1]
        lines += [p for p in parts if p]
    return {"strings": len(lines), "valid_fraction": reber.valid_fraction(lines) if lines else None}
