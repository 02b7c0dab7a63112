"""Which model file a command samples or evaluates: RUN_DIR, MODEL.keras or the latest run. No TensorFlow."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lstmgen.errors import RunError
from lstmgen.runs.rundir import DEFAULT_RUNS, RunDir, refuse_foreign_run_json
from lstmgen.runs.runfiles import is_run_dir


@dataclass
class ModelChoice:
    """The model file picked for a target, the run it belongs to, and what it really is.

    `which` is "best" or "latest" for a run directory (the one actually used, which differs from the one asked for
    when that one is gone), or "file" for an explicit .keras path; `note` says what was substituted and why.
    """

    path: Path
    run: Path
    which: str
    note: str | None = None


def pick_model(target: str | os.PathLike | None, which: str = "best") -> ModelChoice:
    """Resolve RUN_DIR | MODEL.keras | builtin:NAME | None (the latest run under runs/) to a model file.

    >>> pick_model("runs/book").path           # doctest: +SKIP
    PosixPath('runs/book/best.keras')
    """
    if target is None:
        target = latest_run()
        if target is None:
            raise RunError(
                f"no trained run found under '{DEFAULT_RUNS}/'; train one with 'lstmgen train CORPUS' "
                "or pass a run directory"
            )
    if str(target).startswith("builtin:"):  # a model shipped with lstmgen: a run directory inside the package
        from lstmgen.runs.builtinmodels import builtin_model_dir

        return _in_run(builtin_model_dir(str(target)[len("builtin:") :]), which)
    path = Path(target)
    if path.is_dir():
        if not is_run_dir(path):
            refuse_foreign_run_json(path)
            raise RunError(f"'{path}' is not an lstmgen run directory (no run.json)")
        return _in_run(path, which)
    if not path.exists():
        raise RunError(f"model or run directory '{path}' does not exist")
    if path.suffix != ".keras":
        raise RunError(f"'{path}' is not a .keras model file or a run directory")
    for run in (path.parent, path.parent.parent):
        if is_run_dir(run):
            return ModelChoice(path, run, "file")
    raise RunError(f"model '{path}' is not inside an lstmgen run directory (its vocab.json is needed)")


def _in_run(run: Path, which: str) -> ModelChoice:
    """RUN/<which>.keras, else the checkpoint it linked to, else the newest model there is, saying so."""
    link = run / f"{which}.keras"
    if link.is_file():
        return ModelChoice(link, run, which)
    checkpoints = RunDir(run).checkpoints()
    if which == "best" and checkpoints:
        best_epoch = checkpoints[0][1].best_epoch
        for model, state in checkpoints:  # the best model is the checkpoint written at the end of the best epoch
            if best_epoch is not None and state.epoch == best_epoch and state.step == 0:
                return ModelChoice(
                    model,
                    run,
                    "best",
                    f"{run}/best.keras is missing; using "
                    f"{model.relative_to(run)}, the checkpoint of the best epoch ({best_epoch})",
                )
    latest = run / "latest.keras"
    if latest.is_file():
        return ModelChoice(
            latest,
            run,
            "latest",
            f"{link} is missing and no checkpoint of the best epoch is left; using latest.keras (the newest model)",
        )
    if checkpoints:
        model = checkpoints[0][0]
        return ModelChoice(
            model,
            run,
            "latest",
            f"{run}/{which}.keras and latest.keras are missing; using the newest checkpoint, {model.relative_to(run)}",
        )
    raise RunError(
        f"run directory '{run}' has no saved model (no best.keras, latest.keras or checkpoint in "
        f"checkpoints/); train it with: lstmgen train {run}"
    )


def latest_run(root: Path = DEFAULT_RUNS) -> Path | None:
    """The run under `root` whose newest model was written last (None when there is none)."""
    if not root.is_dir():
        return None
    found: dict[Path, float] = {}
    for p in root.iterdir():
        if p.is_dir() and is_run_dir(p):
            latest = p / "latest.keras"  # a hard link to the newest checkpoint; those are read only without it
            newest = latest if latest.is_file() else next((m for m, _ in RunDir(p).checkpoints()[:1]), None)
            if newest is not None:
                found[p] = newest.stat().st_mtime
    return max(found, key=found.__getitem__, default=None)
