"""lstmgen: character-level LSTM text generation on Keras 3, as a library (and the `lstmgen` command over it).

    import lstmgen
    corpus = lstmgen.prepare("book.txt")                           # or a URL, a directory, "builtin:pydocs"
    run = lstmgen.train(corpus, config="cpu", epochs=3, out="runs/book")
    print(run.history[-1]["val_loss"]); run.plot()
    gen = run.generator()                                          # the model held in memory
    print(gen.generate("ROMEO:", length=300, temperature=0.7))
    lstmgen.estimate_log("fit.log", epochs=20)                     # when will a Keras fit finish?

`import lstmgen` is light: TensorFlow/Keras load only when a function needs them (training, evaluation).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lstmgen.errors import ConfigError, DataError, LogError, LstmgenError, RunError

__version__ = "0.1.0"
FORMAT_VERSION = 1  # bumped when run-directory or prepared-directory layouts change incompatibly

_LAZY = {  # public name -> module that defines it, imported on first use
    "prepare": "lstmgen.api.corpus",
    "Corpus": "lstmgen.api.corpus",
    "train": "lstmgen.api.run",
    "Run": "lstmgen.api.run",
    "Generator": "lstmgen.api.generator",
    "evaluate": "lstmgen.api.evaluate",
    "Evaluation": "lstmgen.api.evaluate",
    "estimate_log": "lstmgen.api.estimate",
    "Estimate": "lstmgen.eta.record",
    "EtaCallback": "lstmgen.training.etacallback",
    "config_keys": "lstmgen.config",
}

__all__ = [
    "ConfigError",
    "Corpus",
    "DataError",
    "Estimate",
    "EtaCallback",
    "Evaluation",
    "Generator",
    "LogError",
    "LstmgenError",
    "Run",
    "RunError",
    "config_keys",
    "estimate_log",
    "evaluate",
    "prepare",
    "train",
]

if TYPE_CHECKING:
    from lstmgen.api.corpus import Corpus, prepare
    from lstmgen.api.estimate import estimate_log
    from lstmgen.api.evaluate import Evaluation, evaluate
    from lstmgen.api.generator import Generator
    from lstmgen.api.run import Run, train
    from lstmgen.config import config_keys
    from lstmgen.eta.record import Estimate
    from lstmgen.training.etacallback import EtaCallback


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lstmgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
