"""Training a run: open it (new, continued or branched), check it can resume, then let the Trainer train it.

>>> from lstmgen.training.train import train
>>> result = train("book.txt", overrides={"epochs": 2}, out_dir="runs/book")
>>> result.status, result.best_val_loss
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lstmgen.config import Config, dump_yaml
from lstmgen.data.prepared import Prepared
from lstmgen.data.vocab import Vocab
from lstmgen.errors import LstmgenError, RunError
from lstmgen.runs import runhealth
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.runfiles import is_run_dir
from lstmgen.runs.state import TrainState
from lstmgen.runtime import backend
from lstmgen.training import distribute
from lstmgen.training.branch import same_path
from lstmgen.training.epoch_report import EpochReport
from lstmgen.training.job import Job
from lstmgen.training.model import model_shape
from lstmgen.training.runopen import open_run_in_job
from lstmgen.training.stopping import StopFlag
from lstmgen.training.trainer import Notes, Trainer
from lstmgen.util import atomic
from lstmgen.util.output import SILENT, current, using


@dataclass
class TrainResult:
    """What `train` did. `notes`: what it said that a caller showing only results should still show (where it
    resumed, checkpoints it skipped, why there was nothing to do); `hint`: how to continue an interrupted run."""

    run_dir: Path
    status: str  # finished | interrupted | time budget reached | stopped by a callback | already finished
    epochs_done: int
    global_step: int
    best_val_loss: float | None
    notes: list[str] = field(default_factory=list)
    hint: str | None = None


def train(
    source: str,
    *,
    config_file: str | None = None,
    overrides: dict | None = None,
    out_dir: str | None = None,
    callbacks: Sequence = (),
    on_note: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a new run on `source` (raw text, SOURCE spec or prepared dir), or continue the run at `source`.

    Notes and progress bars go to the caller's `lstmgen.util.output` Output (silent by default; on every process of
    a multi-process job but the first). `callbacks`: Keras callbacks run after lstmgen's own in `model.fit`; they see
    every epoch and batch this call trains. Keras callbacks hold no state lstmgen checkpoints: on resume they start
    fresh. A stop by signal or time budget returns normally (status `interrupted`, `time budget reached`; `hint`
    says how to resume). `on_note`: where the notes a quiet caller still wants (where it resumed, checkpoints it
    skipped, why there is nothing to do) go as they happen, on every process; by default they are said like the
    others. They are also returned in `TrainResult.notes`.
    """
    run, cfg, data, resumed, job = open_run_in_job(source, config_file, overrides or {}, out_dir)
    try:  # the chief holds the run's lock from open_run until training ends
        with using(SILENT) if not job.is_chief else contextlib.nullcontext():  # process 0 reports; others train
            return _train_opened(source, run, cfg, data, resumed, job, list(callbacks), Notes(on_note))
    finally:
        run.release_lock()


def _train_opened(
    source: str,
    run: RunDir,
    cfg: Config,
    data: Prepared,
    resumed: bool,
    job: Job,
    callbacks: list,
    notes: Notes,
) -> TrainResult:
    branched = resumed and is_run_dir(source) and not same_path(source, run.path)
    origin = run.info().get("branched_from") if branched else None
    if origin:
        current().say(
            f"branched from '{source}' at global step {origin['global_step']} (it stays unchanged); "
            f"continuing in '{run.path}'"
        )
    failed = None
    if resumed and job.is_chief:  # before anything is written: no restart from 0, no epoch trained in vain
        try:
            runhealth.check_checkpoints_present(run)
            runhealth.check_writable(run)
        except LstmgenError as e:
            failed = e
    if not job.all_ok(failed is None):
        raise failed or RunError("process 0 cannot resume the run (see its error); fix that and restart all")
    with runhealth.writes(run):
        return _resume_and_train(run, cfg, data, resumed, job, callbacks, notes)


def _resume_and_train(
    run: RunDir, cfg: Config, data: Prepared, resumed: bool, job: Job, callbacks: list, notes: Notes
) -> TrainResult:
    removed = run.clean_temps() if job.is_chief else []
    if removed:
        notes.add(f"removed {len(removed)} unfinished temporary file(s) left by an interrupted save")
    if resumed and job.is_chief:
        atomic.write_text(run.path / "config.yaml", dump_yaml(cfg))
        try:
            intact = Vocab.load(run.path / "vocab.json").chars == data.vocab.chars
        except LstmgenError:
            intact = False
        if not intact:  # missing or damaged: the run's data has the same vocabulary
            data.vocab.save(run.path / "vocab.json")
    newest = run.checkpoints()[:1] if resumed else []
    done = _nothing_to_do(run, cfg, newest[0][1], notes) if newest else None
    if done is not None:  # before a model is built
        return done
    plan = distribute.setup(cfg, job)
    with plan.scope():
        return _train_in_scope(run, cfg, data, resumed, plan, callbacks, notes)


def _nothing_to_do(run: RunDir, cfg: Config, state: TrainState, notes: Notes) -> TrainResult | None:
    """The result for a run whose newest checkpoint has trained all `cfg.epochs` or used its time budget; None when
    there is training left. (Older checkpoints, the resume fallbacks, have trained less.)"""
    if state.epoch >= cfg.epochs:
        notes.add(
            f"run '{run.path}' has already trained {state.epoch} epochs; pass --epochs N "
            f"(N > {state.epoch}) to train further"
        )
        return _result(run, "already finished", state, notes)
    if cfg.max_minutes and state.wall_seconds >= cfg.max_minutes * 60:
        notes.add(
            f"run '{run.path}' has used its time budget ({cfg.max_minutes:g} min); pass --max-minutes M "
            "(more) or 0 (no limit) to train further"
        )
        return _result(run, "time budget reached", state, notes)
    return None


def _result(run: RunDir, status: str, state: TrainState, notes: Notes, hint: str | None = None) -> TrainResult:
    return TrainResult(run.path, status, state.epoch, state.global_step, state.best_val_loss, list(notes), hint)


def _train_in_scope(
    run: RunDir, cfg: Config, data: Prepared, resumed: bool, plan: distribute.Plan, callbacks: list, notes: Notes
) -> TrainResult:
    say = current().say
    trainer = Trainer(run, cfg, data, plan, callbacks=callbacks, notes=notes)
    say(data.summary())
    if plan.replicas > 1:
        say(plan.describe())
    trainer.build()
    restored = trainer.restore() if resumed else False
    if not restored and cfg.init_from:
        trainer.start_from_base()
    if resumed:
        shape = model_shape(trainer.model)
        if shape["vocab_size"] != data.vocab.size:
            raise RunError(f"run '{run.path}' does not match its vocabulary; it is damaged, start a new run")
    st = trainer.state
    params = trainer.model.count_params()
    say(
        f"run {run.path}: {params:,} parameters, {trainer.steps} steps/epoch × {cfg.epochs} epochs, "
        f"batch {cfg.batch_size} × {cfg.seq_len}, {backend.describe()}, precision {trainer.policy}, "
        f"XLA {trainer.jit}, {trainer.threads}, steps_per_execution {cfg.steps_per_execution}, {trainer.kernel}"
    )
    trainer.report = EpochReport(run, cfg, data) if plan.is_chief else None
    with StopFlag(plan.job) as stop:  # the run's lock is held by train() since open_run
        try:
            status = trainer.fit(stop)
        finally:
            if trainer.report is not None:
                trainer.report.close()
    if plan.replicas > 1:
        check = plan.check_replicas(trainer.model)
        trainer.log(check)
        trainer.note(check)
    hint = None
    if status == "interrupted":
        hint = (
            f"stopped by {stop.reason or 'request'} at epoch {st.epoch + 1}, step {st.step}; checkpoint saved. "
            f"Resume with: lstmgen train {run.path}"
        )
    return _result(run, status, st, notes, hint)
