"""The model a fine-tuning run starts from (`train --from`): a run directory, a `.keras` file inside one, or a model
shipped with lstmgen (`builtin:english`). Read with h5py: no TensorFlow."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lstmgen.data.download import file_sha256
from lstmgen.data.vocab import Vocab
from lstmgen.errors import RunError
from lstmgen.runs.builtinmodels import MODELS_DIR, builtin_model_dir, builtin_model_names
from lstmgen.runs.kerasfile import Weights, read_weights

__all__ = ["MODELS_DIR", "Base", "builtin_model_dir", "builtin_model_names", "resolve_base"]


@dataclass
class Base:
    """A base model: its file, the run it came from, its vocabulary and its weights.

    >>> base = resolve_base("builtin:english")           # doctest: +SKIP
    >>> base.config_shape()
    {'embedding_dim': 64, 'layers': 2, 'units': 256}
    """

    spec: str
    path: Path
    run: Path
    vocab: Vocab
    weights: Weights
    sha256: str
    data_sha256: str | None
    source: str | None

    def config_shape(self) -> dict:
        """The config keys the base fixes (a new run gets exactly these)."""
        s = self.weights.shape
        return {"embedding_dim": s["embedding_dim"], "layers": s["layers"], "units": s["units"][0]}

    def record(self) -> dict:
        """What run.json keeps of the base: where it was, which file exactly, and what it was trained on."""
        return {
            "spec": self.spec,
            "path": str(self.path.resolve()),
            "sha256": self.sha256,
            "data_sha256": self.data_sha256,
            "source": self.source,
            "vocab_size": self.vocab.size,
        }


def resolve_base(spec: str, warn: Callable[[str], None] = lambda _: None) -> Base:
    """Find and read the base model named by `spec` (RUN_DIR, MODEL.keras or builtin:NAME)."""
    from lstmgen.runs.rundata import run_vocab
    from lstmgen.runs.rundir import RunDir
    from lstmgen.runs.runmodel import pick_model

    if not spec.startswith("builtin:") and not os.path.exists(spec):
        raise RunError(
            f"base model '{spec}' does not exist; give a run directory, a .keras file in one, or "
            f"builtin:NAME ({', '.join(builtin_model_names()) or 'none shipped'})"
        )
    choice = pick_model(spec, "best")
    if choice.note:
        warn(f"base: {choice.note}")
    info = RunDir(choice.run).info()
    vocab = run_vocab(choice.run, info, warn)
    weights = read_weights(choice.path)
    units = weights.shape["units"]
    if weights.shape["vocab_size"] != vocab.size:
        raise RunError(
            f"base model '{choice.path}' has {weights.shape['vocab_size']} characters but its run's "
            f"vocab.json has {vocab.size}; the run is damaged, use another base"
        )
    if len(set(units)) != 1:
        raise RunError(
            f"base model '{choice.path}' has LSTM layers of different sizes {units}; lstmgen fine-tunes "
            "models whose layers all have the same number of units"
        )
    return Base(
        spec,
        choice.path,
        choice.run,
        vocab,
        weights,
        file_sha256(choice.path),
        info.get("data_sha256"),
        info.get("source"),
    )
