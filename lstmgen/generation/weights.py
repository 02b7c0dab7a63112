"""A `.keras` file as a NumPy step model, without TensorFlow or Keras (the file is read by `runs.kerasfile`).

>>> model = read_step_model("runs/book/best.keras")   # doctest: +SKIP
>>> model.vocab_size
65
"""

from __future__ import annotations

from pathlib import Path

from lstmgen.generation.sample import StepModel
from lstmgen.runs.kerasfile import read_weights


def read_step_model(path: str | Path) -> StepModel:
    """The NumPy step model of an lstmgen `.keras` file, its weights checked by layer name and shape."""
    w = read_weights(path)
    return StepModel(w.embedding, w.cells, w.kernel, w.bias)
