"""`lstmgen generate`: load a trained run safely, prime it, and stream samples.

The weights are read from the `.keras` file with h5py (`lstmgen.generation.weights`); Keras is imported only by the
keras engine, and `load_keras_model` is for the commands that need the Keras model itself (`eval`'s loss).
"""

from __future__ import annotations

import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np

from lstmgen.data.vocab import Vocab
from lstmgen.errors import RunError
from lstmgen.generation.devicestep import for_engine, pick_engine
from lstmgen.generation.sample import Sampling, StepModel, check_generation, generate_text
from lstmgen.generation.weights import read_step_model
from lstmgen.runs.rundata import run_vocab
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.runmodel import ModelChoice, pick_model
from lstmgen.runtime.hardware import memory_bytes
from lstmgen.util.limits import GENERATED_CHARS, LENGTH, NUM_SAMPLES, SEED, check_range
from lstmgen.util.output import current


def load_keras_model(path: Path):
    """Load a .keras file with safe_mode (no code from the file is executed); any damage → RunError."""
    from lstmgen.runtime.backend import keras

    if not Path(path).exists():  # listed a moment ago: pruned by the run's trainer since
        raise RunError(
            f"model '{path}' no longer exists (a training run keeps only its last checkpoints); "
            "use the run directory's best or latest model"
        )
    if not zipfile.is_zipfile(path):
        raise RunError(
            f"'{path}' is not a Keras model file (truncated or corrupt); use an intact checkpoint "
            "from the run's checkpoints/ directory"
        )
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for damaged archives
        raise RunError(
            f"cannot load model '{path}': {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}; "
            "the file is damaged or not an lstmgen model"
        ) from None


def load(
    target: str | None, which: str = "best", warn: Callable[[str], None] | None = None
) -> tuple[StepModel, Vocab, ModelChoice]:
    """The step model and vocabulary of a run's model; `warn` gets notes on what was substituted for missing files."""
    warn = warn or current().say
    choice = pick_model(target, which)
    path, run = choice.path, choice.run
    info = RunDir(run).info()  # refuses run directories of an incompatible format version
    if choice.note:
        warn(choice.note)
    vocab = run_vocab(run, info, warn)
    step_model = read_step_model(path)  # the weights only, read with h5py: no TensorFlow
    if step_model.vocab_size != vocab.size:
        raise RunError(
            f"model '{path}' has {step_model.vocab_size} outputs but the run's vocab.json has "
            f"{vocab.size} characters; the run directory is inconsistent"
        )
    return step_model, vocab, choice


def encode_prime(vocab: Vocab, prime: str, warn: Callable[[str], None]) -> tuple[np.ndarray, str]:
    """Encode the prime, mapping or dropping characters outside the vocabulary; returns ids and the text used."""
    missing = vocab.unknown_chars(prime)
    ids = vocab.encode(prime, unknown="map")
    used = vocab.decode(ids.tolist())
    if missing:
        shown = "".join(sorted(set(missing)))[:20]
        warn(f"prime characters not in the vocabulary were mapped or dropped: {shown!r}; primed with {used!r}")
    return ids, used


class Streamer:
    """Writes one stream's characters to `out` as they are produced, flushing a few times a second."""

    def __init__(self, out: TextIO, vocab: Vocab):
        self.out, self.vocab = out, vocab
        self.last = time.monotonic()

    def __call__(self, ids: np.ndarray) -> None:
        self.out.write(self.vocab.chars[int(ids[0])])
        now = time.monotonic()
        if now - self.last > 0.05:
            self.out.flush()
            self.last = now


def check_generate_options(
    length: int,
    num_samples: int,
    seed: int | None,
    length_name: str = "--length",
    samples_name: str = "--num-samples",
    min_samples: int = 1,
) -> None:
    """The ranges of generate's (and eval --generate's) numbers, checked before any model is loaded."""
    check_range(length_name, length, *LENGTH)
    check_range(samples_name, num_samples, min_samples, NUM_SAMPLES[1])
    if num_samples * length > GENERATED_CHARS:
        raise RunError(
            f"{samples_name} × {length_name} = {num_samples:,} × {length:,} characters; at most "
            f"{GENERATED_CHARS:,} are generated at once; lower one of them"
        )
    if seed is not None:
        check_range("--seed", seed, *SEED)


def generate(
    target: str | None = None,
    *,
    which: str = "best",
    prime: str = "",
    length: int = 500,
    num_samples: int = 1,
    sampling: Sampling | None = None,
    seed: int | None = None,
    out: TextIO | None = None,
    warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    info: dict | None = None,
    engine: str = "auto",
) -> list[str]:
    """Generate `num_samples` texts of `length` characters after `prime`; print them to `out` if given.

    One sample is streamed character by character; several (or any, without `out`) are generated as one batch,
    with a progress bar, and printed in turn. Returned texts include the prime text that was actually used;
    `info`, if given, receives the model path, which model that is (best, latest, or file when a .keras path was
    given; a missing best.keras falls back as `runmodel.pick_model` says), that prime and the engine used.
    """
    sampling = (sampling or Sampling()).check()
    check_generate_options(length, num_samples, seed)
    t0 = time.monotonic()
    step_model, vocab, choice = load(target, which, warn)
    path = choice.path
    check_generation(step_model, num_samples, length, memory_bytes())
    engine = pick_engine(engine)
    step_model = for_engine(step_model, engine)
    current().detail(f"loaded {path} in {time.monotonic() - t0:.1f}s; generation engine {engine}")
    prime_ids, used = encode_prime(vocab, prime, warn)
    if info is not None:
        info.update(model=str(path), which=choice.which, prime=used, engine=engine)
    bar = None
    on_step: Callable[[np.ndarray], None]
    if out is not None and num_samples == 1:
        out.write(used)
        on_step = Streamer(out, vocab)
    else:
        bar = current().bar(total=length, desc="generating", unit="char")
        on_step = lambda ids: bar.update(1)  # noqa: E731
    t0 = time.monotonic()
    try:
        texts = generate_text(
            step_model,
            vocab.decode,
            prime_ids,
            length,
            num_samples,
            sampling,
            seed,
            on_step,
        )
    finally:
        if bar is not None:
            bar.close()
    seconds = time.monotonic() - t0
    current().detail(
        f"generated {num_samples} × {length} characters in {seconds:.2f}s "
        f"({num_samples * length / max(seconds, 1e-9):,.0f} chars/s)"
    )
    texts = [used + t for t in texts]
    if out is not None:
        if num_samples == 1:
            out.write("\n")
        else:
            for k, text in enumerate(texts, 1):
                out.write(f"--- sample {k}/{num_samples} ---\n{text}\n")
        out.flush()
    return texts
