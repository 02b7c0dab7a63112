"""What a run shows and keeps at each epoch end besides the checkpoint: the loss-curve PNG, TensorBoard scalars and
a short sample at one or two temperatures (printed to stderr and appended to RUN/samples.txt).

None of it may stop training: a failure is noted once (stderr and train.log) and that part is switched off.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from lstmgen.config import Config, parse_temperatures
from lstmgen.data.prepared import Prepared
from lstmgen.data.vocab import Vocab
from lstmgen.runs.plots import PNG_NAME, write_loss_png
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.runfiles import now_iso
from lstmgen.util import atomic
from lstmgen.util.output import current

if TYPE_CHECKING:
    from lstmgen.training.tblog import TensorBoardLog

LN2 = math.log(2)
SAMPLES_NAME = "samples.txt"
T = TypeVar("T")


def sample_prime(vocab: Vocab) -> np.ndarray:
    """Start at the beginning of a line when the corpus has lines (right for Reber strings), else anywhere."""
    return np.array([vocab.index["\n"]] if "\n" in vocab else [], dtype=np.int64)


def word_prime(vocab: Vocab, ids: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """The first word of a random line of `ids` (or of a random word, if no line starts with a letter or digit),
    with the newline or space before it: samples then start the way the text does. A bare newline prime can send
    a low-temperature sample of indented text into a run of spaces. Returns (prime ids, the word)."""
    ids = np.asarray(ids[:2_000_000]).astype(np.int64)
    if ids.size < 3:
        return sample_prime(vocab), ""
    alnum = np.array([c.isalnum() for c in vocab.chars])
    space = np.array([c.isspace() for c in vocab.chars])
    starts = np.zeros(0, dtype=np.int64)
    if "\n" in vocab:
        starts = np.flatnonzero((ids[:-1] == vocab.index["\n"]) & alnum[ids[1:]]) + 1
    if starts.size == 0:
        starts = np.flatnonzero(space[ids[:-1]] & alnum[ids[1:]]) + 1
    if starts.size == 0:
        return sample_prime(vocab), ""
    p = int(starts[np.random.default_rng(seed).integers(starts.size)])
    end = p
    while end < min(p + 16, ids.size) and not space[ids[end]]:
        end += 1
    return ids[p - 1 : end], vocab.decode(ids[p:end])


def epoch_samples(
    model, vocab: Vocab, temperatures: list[float], length: int, seed: int, prime: tuple[np.ndarray, str] | None = None
) -> list[tuple[float, str]]:
    """One `length`-character sample per temperature from the Keras model's current weights (NumPy step model),
    each starting with the prime's word."""
    from lstmgen.generation.sample import Sampling, StepModel, generate_text

    prime_ids, word = prime if prime is not None else (sample_prime(vocab), "")
    step_model = StepModel.from_keras(model)
    out = []
    for k, t in enumerate(temperatures):
        text = generate_text(step_model, vocab.decode, prime_ids, length, 1, Sampling(temperature=t), seed + k)[0]
        out.append((t, word + text))
    return out


def format_entry(row: dict, epochs: int, samples: list[tuple[float, str]]) -> str:
    val = row.get("val_loss")
    val_text = f"val {val:.4f} nats ({val / LN2:.3f} bits/char)" if val is not None else "no validation split"
    lines = [
        (
            f"=== epoch {row['epoch']}/{epochs} · step {row['global_step']} · loss {row['loss']:.4f} · {val_text} "
            f"· {row.get('time') or now_iso()} ==="
        )
    ]
    for t, text in samples:
        lines += [f"--- temperature {float(t)} ---", text]
    return "\n".join(lines) + "\n\n"


class EpochReport:
    def __init__(self, run: RunDir, cfg: Config, data: Prepared):
        self.run, self.cfg, self.vocab = run, cfg, data.vocab
        self.temperatures = parse_temperatures(cfg.sample_temperatures)
        # the same prime every epoch, so the samples show the model improving on the same start
        self.prime = word_prime(data.vocab, data.val if len(data.val) > 2 else data.train, cfg.seed)
        self.failed: set[str] = set()
        self.tb: TensorBoardLog | None = (
            self._guard("TensorBoard logging", self._open_tensorboard) if cfg.tensorboard else None
        )

    def _open_tensorboard(self) -> TensorBoardLog:
        from lstmgen.training.tblog import TensorBoardLog

        return TensorBoardLog(self.run.path)

    def _guard(self, what: str, action: Callable[[], T]) -> T | None:
        """Run `action`; on failure note it once and return None."""
        if what in self.failed:
            return None
        try:
            return action()
        except Exception as e:
            self.failed.add(what)
            note = f"{what} failed and is off for the rest of this run ({type(e).__name__}: {e}); training goes on"
            try:
                self.run.log(f"note {note}")
            except OSError:
                pass
            current().say(f"note: {note}")
            return None

    # --- hooks called by the trainer ----------------------------------------------------------------------
    def step(self, global_step: int, loss: float) -> None:
        """A logged training step (every log_every_steps): the per-step TensorBoard loss."""
        tb = self.tb
        if tb is not None and "TensorBoard logging" not in self.failed:
            self._guard("TensorBoard logging", lambda: tb.scalars(global_step, {"train/loss": loss}))

    def epoch_end(self, model, history: list[dict]) -> None:
        row = history[-1]
        if self.tb is not None and "TensorBoard logging" not in self.failed:
            self._guard("TensorBoard logging", lambda: self._epoch_scalars(row))
        self._guard(
            "the loss plot",
            lambda: write_loss_png(history, self.run.path / PNG_NAME, title=self.run.path.resolve().name),
        )
        every = self.cfg.sample_every_epochs
        if every and row["epoch"] % every == 0:
            self._guard("per-epoch sampling", lambda: self._sample(model, row))

    def close(self) -> None:
        if self.tb is not None:
            self._guard("TensorBoard logging", self.tb.close)

    # --- parts ----------------------------------------------------------------------------------------------
    def _epoch_scalars(self, row: dict) -> None:
        assert self.tb is not None  # called only while TensorBoard logging is on
        self.tb.scalars(
            row["global_step"],
            {
                "epoch/loss": row["loss"],
                "epoch/val_loss": row.get("val_loss"),
                "epoch/val_bpc": row.get("val_bpc"),
                "epoch/val_loss_stateful": row.get("val_loss_stateful"),
                "epoch/learning_rate": row.get("learning_rate"),
            },
        )
        self.tb.flush()

    def _sample(self, model, row: dict) -> None:
        samples = epoch_samples(
            model,
            self.vocab,
            self.temperatures,
            self.cfg.sample_length,
            seed=self.cfg.seed + 7919 * row["epoch"],
            prime=self.prime,
        )
        entry = format_entry(row, self.cfg.epochs, samples)
        path = Path(self.run.path) / SAMPLES_NAME
        try:
            before = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            before = ""
        atomic.write_text(path, before + entry)
        for t, text in samples:
            current().say(f"--- sample after epoch {row['epoch']}, temperature {float(t)} ---\n{text}")
