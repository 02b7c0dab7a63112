"""`lstmgen.train` and `Run`: train a model, open a run directory, continue it, sample it, plot its loss."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmgen.util.output import Output, current, using

if TYPE_CHECKING:
    from lstmgen.api.corpus import Corpus
    from lstmgen.api.evaluate import Evaluation
    from lstmgen.api.generator import Generator


class Run:
    """A run directory: its config, history, checkpoints and models. Opening one reads files only (no TensorFlow).

    >>> run = lstmgen.Run("runs/book")                       # doctest: +SKIP
    >>> run.status, run.epochs_done, run.best_val_loss       # doctest: +SKIP
    ('finished', 3, 1.6123)
    >>> run.train(epochs=6)                                   # continue to 6 epochs   # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike) -> None:
        from lstmgen.errors import RunError
        from lstmgen.runs.rundir import RunDir
        from lstmgen.runs.runfiles import is_run_dir

        self.path = Path(path)
        if not is_run_dir(self.path):
            raise RunError(
                f"'{self.path}' is not a run directory (it has no run.json written by lstmgen); "
                "train one with lstmgen.train(SOURCE, out=DIR)"
            )
        RunDir(self.path).info()  # refuses a run of an incompatible format version
        self.result: Any = None  # what the last `train` call through this object returned (TrainResult)

    def info(self) -> dict:
        """What `lstmgen info RUN --json` prints: state, config, model shape, vocabulary, checkpoints."""
        from lstmgen.runs.runinfo import run_info

        return run_info(str(self.path))

    @property
    def status(self) -> str:
        """finished, running, interrupted, time budget or empty."""
        return str(self.info()["state"])

    @property
    def config(self) -> dict:
        """The run's config.yaml as a dict."""
        from lstmgen.runs.rundir import RunDir

        return RunDir(self.path).saved_config()

    @property
    def history(self) -> list[dict]:
        """One record per finished epoch (epoch, global_step, loss, val_loss, val_bpc, learning_rate, seconds …)."""
        from lstmgen.runs.plots import read_metrics

        return read_metrics(self.path / "metrics.csv")

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def best_val_loss(self) -> float | None:
        losses = [r["val_loss"] for r in self.history if r.get("val_loss") is not None]
        return min(losses) if losses else None

    def plot(self, title: str | None = None):
        """The loss curves (train and validation, nats and bits/char, against steps and time): a matplotlib Figure,
        shown inline in a notebook."""
        from lstmgen.runs.plots import loss_figure

        return loss_figure(self.history, self.path.name if title is None else title)

    def train(
        self,
        *,
        out: str | os.PathLike | None = None,
        callbacks: Sequence = (),
        progress: bool | None = True,
        verbose: int = 0,
        **overrides: Any,
    ) -> Run:
        """Continue this run (to `epochs=N`, with other keys changed as `lstmgen train RUN` allows), or a copy of it
        in `out`. Returns the run that was trained."""
        return train(self.path, out=out, callbacks=callbacks, progress=progress, verbose=verbose, **overrides)

    def generator(self, which: str = "best", engine: str = "auto") -> Generator:
        """A Generator holding this run's best (or latest) model in memory."""
        from lstmgen.api.generator import Generator

        return Generator(self.path, which=which, engine=engine)

    def evaluate(self, *texts: str | os.PathLike, which: str = "best", **options: Any) -> Evaluation:
        """`lstmgen.evaluate(self, *texts, ...)`."""
        from lstmgen.api.evaluate import evaluate

        return evaluate(self, *texts, which=which, **options)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)


def train(
    source: str | os.PathLike | Corpus | Run,
    *,
    config: str | None = None,
    out: str | os.PathLike | None = None,
    callbacks: Sequence = (),
    progress: bool | None = True,
    verbose: int = 0,
    **overrides: Any,
) -> Run:
    """Train a model on `source` and return its Run; or continue `source` when it is a run (a copy, with `out`).

    `source`: a Corpus, a prepared directory, a run directory, or anything `prepare` takes (prepared and cached).
    `config`: a preset (smoke, cpu, demo, gpu) or a YAML file; keyword overrides take every config key
    (`lstmgen.config_keys()`), and an unknown key raises ConfigError naming the closest one. `callbacks` are Keras
    callbacks run inside lstmgen's `model.fit` after its own (EarlyStopping, a logger); they see every epoch this
    call trains and start afresh when a run is resumed (Keras callbacks hold no state in lstmgen's checkpoints).
    Interrupting (Ctrl-C, the notebook's stop button) saves a checkpoint and returns; `run.result.status` says
    "interrupted", and calling `run.train()` resumes exactly. `progress` shows tqdm bars (widgets in a notebook);
    `verbose` 1 prints notes, 2 detail. `init_from=` a Run, a path or "builtin:english" fine-tunes from that model.

    >>> run = lstmgen.train("book.txt", config="cpu", epochs=3, out="runs/book")   # doctest: +SKIP
    >>> run.history[-1]["val_loss"]                                                # doctest: +SKIP
    1.6123
    """
    from lstmgen.config import check_override_keys
    from lstmgen.runtime.backendpick import pick_for_training

    if isinstance(overrides.get("init_from"), os.PathLike):  # a Run, a Path: fine-tune from it
        overrides["init_from"] = os.fspath(overrides["init_from"])
    check_override_keys(overrides)
    with using(Output(verbose=verbose, progress=progress, write=current().write)):
        picked = pick_for_training()  # before Keras is imported
        if picked:
            current().say(picked)
        from lstmgen.training.train import train as run_train

        spec = os.fspath(source.path if hasattr(source, "path") else source)
        result = run_train(
            spec,
            config_file=config,
            overrides=overrides,
            out_dir=None if out is None else os.fspath(out),
            callbacks=tuple(callbacks),
        )
    run = Run(result.run_dir)
    run.result = result
    return run
