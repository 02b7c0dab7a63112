"""The back end and the compiled model a training run (or `estimate`'s timing burst) trains: written once for both.

>>> setup = setup_model(cfg, vocab_size=65, total_steps=1000, seed=cfg.seed)
>>> setup.model.fit(...)
"""

from __future__ import annotations

from dataclasses import dataclass

from lstmgen.config import Config
from lstmgen.runtime import backend, fused, torchstep
from lstmgen.runtime.backend import keras
from lstmgen.training import ema
from lstmgen.training.model import build_model, compile_model


@dataclass
class ModelSetup:
    """A compiled model and the back-end choices in effect (each a short text for the run's summary line)."""

    model: keras.Model
    threads: str
    precision: str
    jit: bool | str
    kernel: str


def setup_model(
    cfg: Config,
    vocab_size: int,
    *,
    total_steps: int,
    seed: int,
    deterministic: bool = True,
    compile_cfg: Config | None = None,
    build_optimizer: bool = True,
) -> ModelSetup:
    """Size the thread pool, seed everything, set the precision policy, choose XLA and the LSTM kernel, then build
    and compile the model with its optimizer's variables made. `compile_cfg`: the settings the optimizer is compiled
    with when they differ from `cfg` (a multi-replica job scales the learning rate). `build_optimizer=False` leaves
    the optimizer's variables to the first `fit` step, as a plain `fit` does (what `estimate` times). Call it inside a
    distribution scope when there is one."""
    backend.check_steps_per_execution(cfg.steps_per_execution)
    threads = backend.set_threads(cfg.threads)
    backend.seed_everything(seed, deterministic=deterministic)
    precision = backend.set_precision(cfg.mixed_precision, stateful=cfg.stateful)
    jit = backend.resolve_jit(cfg.jit_compile, precision)
    kernel = fused.install(cfg.lstm_kernel)
    torchstep.install()
    model = build_model(cfg, vocab_size)
    compile_model(model, compile_cfg or cfg, total_steps=total_steps, jit_compile=jit)
    torchstep.lighten(model.optimizer)
    ema.hold(model.optimizer)
    if build_optimizer:  # a resumed run restores the optimizer's state into these variables before fitting
        model.optimizer.build(model.trainable_variables)
    return ModelSetup(model, threads, precision, jit, kernel)
