"""Training: prepared ids → model → `model.fit` one epoch at a time, with checkpoints, metrics and a log."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from lstmgen import __version__

from lstmgen.util import atomic
from lstmgen.runtime import backend
from lstmgen.training import distribute
from lstmgen.runtime import fused
from lstmgen.runs import runhealth
from lstmgen.runtime.backend import keras
from lstmgen.training.branch import same_path
from lstmgen.config import Config, dump_yaml
from lstmgen.data.prepared import Prepared
from lstmgen.data.batches import TrainBatches, ValBatches, steps_in_epoch
from lstmgen.training.epoch_report import EpochReport
from lstmgen.errors import LstmgenError, RunError
from lstmgen.training.model import (build_model, compile_model, learning_rate, model_shape, restore_seed_states,
                           seed_states, set_weights)
from lstmgen.eta.track import EtaTracker, eta_line
from lstmgen.training.monitor import TrainMonitor, ValidationBar
from lstmgen.runs.rundir import RunDir, is_run_dir, now_iso
from lstmgen.training.runopen import check_trainable, open_run_in_job
from lstmgen.training.stopping import StopFlag
from lstmgen.data.vocab import Vocab

LN2 = math.log(2)


@dataclass
class TrainResult:
    run_dir: Path
    status: str  # finished | interrupted | time budget reached | already finished
    epochs_done: int
    global_step: int
    best_val_loss: float | None


def _say_default(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Trainer:
    def __init__(self, run: RunDir, cfg: Config, data: Prepared, say: Callable[[str], None], quiet: bool,
                 plan: distribute.Plan | None = None):
        self.run, self.cfg, self.data, self.say, self.quiet = run, cfg, data, say, quiet
        self.plan = plan or distribute.setup(cfg)
        self.steps = check_trainable(cfg, data)
        self.has_val = len(data.val) > cfg.seq_len
        self.report: EpochReport | None = None  # loss plot, TensorBoard, per-epoch samples (set by train())
        self.state = {"epoch": 0, "step": 0, "global_step": 0, "train_seconds": 0.0, "wall_seconds": 0.0,
                      "epoch_loss_sum": 0.0, "epoch_loss_steps": 0, "epoch_elapsed": 0.0,
                      "best_val_loss": None,
                      "best_epoch": None, "history": [], "seed": cfg.seed}

    # --- model --------------------------------------------------------------------------------------------
    def build(self) -> None:
        cfg = self.cfg
        self.threads = backend.set_threads(cfg.threads)
        backend.seed_everything(cfg.seed)
        self.policy = backend.set_precision(cfg.mixed_precision)
        self.jit = backend.resolve_jit(cfg.jit_compile, self.policy)
        self.kernel = fused.install(cfg.lstm_kernel)
        self.model = build_model(cfg, self.data.vocab.size)
        compile_model(self.model, self.plan.scaled(cfg), total_steps=cfg.epochs * self.steps, jit_compile=self.jit)
        self.model.optimizer.build(self.model.trainable_variables)

    def restore(self) -> bool:
        """Load the newest usable checkpoint (falling back past damaged states and unreadable models), weights and
        optimizer state; False when the run has none yet."""
        usable, damaged = self.run.scan_checkpoints()
        newest = usable[0][0].with_suffix(".json").name if usable else ""
        problems = [f"{path.name} is damaged: {why}" for path, why in damaged if path.name > newest]
        for problem in problems:
            self.say(f"checkpoint {problem}; trying an older one")
        for path, state in usable:
            try:
                self.model.load_weights(path)
            except Exception as e:  # a damaged file can fail in h5py, zipfile or Keras itself
                problems.append(f"{path.name} is unreadable ({e.__class__.__name__})")
                self.say(f"checkpoint {problems[-1]}; trying an older one")
                continue
            self.state.update({k: state[k] for k in self.state if k in state})
            restore_seed_states(self.model, state.get("seed_states"))
            self.say(f"resuming from {path.name}: epoch {state['epoch'] + 1}, step {state['step']} "
                     f"(global step {state['global_step']})")
            self.resize_epoch((state.get("config") or {}).get("steps_per_epoch"))
            return True
        if problems:
            shown = "; ".join(problems[:2]) + (f"; and {len(problems) - 2} more" if len(problems) > 2 else "")
            raise RunError(f"no checkpoint in '{self.run.path}' can be used ({shown}); start a new run with -o "
                            "NEW_DIR")
        return False

    def start_from_base(self) -> None:
        """Fine-tuning: the base model's weights, carried over to this run's vocabulary (lstmgen/remap.py)."""
        from lstmgen.runs.basemodel import resolve_base
        from lstmgen.training.remap import remap

        base = resolve_base(self.cfg.init_from, warn=self.say)
        recorded = self.run.info().get("base") or {}
        if recorded.get("sha256") not in (None, base.sha256):
            raise RunError(f"base model '{base.path}' changed since run '{self.run.path}' was started (sha256 "
                            f"{base.sha256[:12]}…, recorded {str(recorded['sha256'])[:12]}…); restore it, or start "
                            "a new run with -o NEW_DIR")
        counts = np.bincount(np.asarray(self.data.train), minlength=self.data.vocab.size)
        remapped = remap(base.weights, base.vocab, self.data.vocab, counts)
        set_weights(self.model, remapped.weights)
        if not self.quiet:
            frozen = f"; first {self.cfg.freeze_layers} LSTM layer(s) frozen" if self.cfg.freeze_layers else ""
            self.say(f"fine-tuning from {base.spec}: {remapped.summary()}{frozen}")

    def resize_epoch(self, saved_steps_per_epoch) -> None:
        """A resumed epoch ends at the new --steps-per-epoch: one that already ran as many steps ends now (validated,
        with its metrics row), a shorter one runs on to the new length; later epochs have the new length. The
        learning-rate schedule then spans the steps the whole run will have taken."""
        st = self.state
        old = (saved_steps_per_epoch if isinstance(saved_steps_per_epoch, int) and saved_steps_per_epoch > 0
               else steps_in_epoch(len(self.data.train), self.cfg.seq_len, self.cfg.batch_size))
        if st["step"] and old != self.steps and st["step"] >= self.steps:
            self.say(f"epoch {st['epoch'] + 1} already ran {st['step']} steps, at least the new --steps-per-epoch "
                     f"{self.steps}: it ends now; later epochs have {self.steps} steps")
        elif st["step"] and old != self.steps:
            self.say(f"epoch {st['epoch'] + 1} continues to {self.steps} steps (was {old}); later epochs have "
                     f"{self.steps} steps")
        total = st["global_step"] + max(self.steps - st["step"], 0) + (self.cfg.epochs - st["epoch"] - 1) * self.steps
        changed = total != self.cfg.epochs * self.steps  # some epochs had another length
        if changed and st["epoch"] < self.cfg.epochs and self.cfg.lr_schedule != "constant":
            self.model.optimizer.learning_rate = learning_rate(self.plan.scaled(self.cfg), total)

    # --- checkpoints ----------------------------------------------------------------------------------
    def save_checkpoint(self, best: bool = False, status: str = "running") -> None:
        if not self.plan.is_chief:  # replicas hold the same weights: one copy, written by process 0
            return
        gstep = self.state["global_step"]
        path = self.run.checkpoint_path(gstep)
        try:
            if not self.run.ckpt_dir.is_dir():  # deleted while training: save into a new one, and say so
                self.run.ckpt_dir.mkdir()
                self.say(f"checkpoints/ of '{self.run.path}' had disappeared (the checkpoints in it are lost); made "
                         "it again")
            with atomic.atomic_path(path) as tmp, self.plan.local():
                self.model.save(tmp)
            state = {"format": "lstmgen-checkpoint", "lstmgen_version": __version__, "time": now_iso(),
                     "status": status, **self.state, "config": self.cfg.resolved(),
                     "seed_states": seed_states(self.model)}
            self.run.commit_checkpoint(gstep, state, keep=self.cfg.keep_checkpoints, best=best)
            self.run.write_metrics(self.state["history"])
        except OSError as e:
            if not path.with_suffix(".json").exists():  # its state was not committed: leave no half behind
                with contextlib.suppress(OSError):
                    path.unlink()
            raise RunError(f"could not save a checkpoint in '{self.run.path}': {e.strerror or e}; free space or fix "
                            "permissions, then resume (earlier checkpoints are intact)") from None

    def log(self, message: str) -> None:
        """A train.log line, written by the chief only."""
        if self.plan.is_chief:
            self.run.log(message)

    def log_interrupted(self) -> None:
        st = self.state
        self.log(f"interrupted epoch={st['epoch'] + 1} step={st['step']} (resume with: lstmgen train {self.run.path})")

    # --- the loop ---------------------------------------------------------------------------------------
    def validate(self) -> float | None:
        """The validation loss over all replicas (Keras returns the global mean of the sharded batches)."""
        if not self.has_val:
            return None
        val = ValBatches(self.data.val, self.cfg.seq_len, self.cfg.val_batch_size, replicas=self.plan.replicas,
                         shard=self.plan.shard)
        return float(self.model.evaluate(backend.fit_input(val), verbose=0,
                                         callbacks=[ValidationBar(len(val), self.quiet)]))

    def learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def fit(self, stop: StopFlag) -> str:
        cfg, st = self.cfg, self.state
        batches = TrainBatches(self.data.train, cfg.seq_len, cfg.batch_size, cfg.seed, self.steps,
                               shard=self.plan.shard)
        if self.plan.replicas > 1:
            self.log(self.plan.describe())
        self.log(f"start run={self.run.path} epochs={cfg.epochs} steps_per_epoch={self.steps} "
                 f"batch={cfg.batch_size} seq_len={cfg.seq_len} "
                 f"resumed_from={'global_step_%d' % st['global_step'] if st['global_step'] else 'none'}")
        budget = cfg.max_minutes * 60 or math.inf
        mark = time.monotonic()  # wall time is accounted from here: steps, validation, saves and reports
        eta = EtaTracker()  # the `estimate --log` forecast, fed this run's epoch times
        while st["epoch"] < cfg.epochs:
            epoch_start, base_elapsed, fit_loss = time.monotonic(), st["epoch_elapsed"], float("nan")
            if st["step"] < self.steps:  # else: an epoch resumed with a shorter length, closed at once
                batches.set_epoch(st["epoch"], st["step"])
                monitor = TrainMonitor(self, stop, budget, batches.start_step)
                fit_logs = self.model.fit(backend.fit_input(batches), epochs=1, verbose=0, shuffle=False,
                                          callbacks=[monitor])
                monitor.close()
                if monitor.stopped:
                    st["wall_seconds"] += time.monotonic() - mark
                    reason = "time budget reached" if monitor.stopped == "budget" else "interrupted"
                    self.save_checkpoint(status=reason)
                    self.log_interrupted()
                    return reason
                fit_loss = float(fit_logs.history["loss"][-1])
            val_loss = self.validate()
            now = time.monotonic()
            st["wall_seconds"] += now - mark  # includes the previous epoch's checkpoint save and report
            mark = now
            epoch_seconds = base_elapsed + now - epoch_start  # earlier parts of a resumed epoch included
            loss = st["epoch_loss_sum"] / st["epoch_loss_steps"] if st["epoch_loss_steps"] else fit_loss
            epoch_steps = st["step"]
            st["epoch"], st["step"] = st["epoch"] + 1, 0
            st["epoch_loss_sum"], st["epoch_loss_steps"], st["epoch_elapsed"] = 0.0, 0, 0.0
            score = val_loss if val_loss is not None else loss
            best = st["best_val_loss"] is None or score < st["best_val_loss"]
            if best:
                st["best_val_loss"], st["best_epoch"] = score, st["epoch"]
            st["history"].append({
                "epoch": st["epoch"], "global_step": st["global_step"], "train_seconds": round(st["train_seconds"], 3),
                "wall_seconds": round(st["wall_seconds"], 3), "epoch_seconds": round(epoch_seconds, 3), "loss": round(loss, 5),
                "val_loss": None if val_loss is None else round(val_loss, 5),
                "val_bpc": None if val_loss is None else round(val_loss / LN2, 5),
                "learning_rate": self.learning_rate(), "time": now_iso()})
            self.save_checkpoint(best=best, status="interrupted" if stop.reason else "running")
            val_text = (f"val_loss {val_loss:.4f} val_bpc {val_loss / LN2:.4f}" if val_loss is not None
                        else "val_loss nan val_bpc nan")
            self.log(f"epoch {st['epoch']}/{cfg.epochs} end steps {epoch_steps}/{epoch_steps} "
                     f"time {epoch_seconds:.2f}s loss {loss:.4f} {val_text}")
            eta.epoch_end(st["epoch"], cfg.epochs, epoch_seconds, epoch_steps)
            if not self.quiet:
                if st["epoch"] < cfg.epochs:
                    self.say(eta_line(eta.forecast()))
                shown = (f"val {val_loss:.4f} nats ({val_loss / LN2:.3f} bits/char)" if val_loss is not None
                         else "no validation split")
                self.say(f"epoch {st['epoch']}/{cfg.epochs}: loss {loss:.4f}, {shown}, {epoch_seconds:.1f}s"
                         + ("  *best" if best else ""))
            if self.report is not None:
                self.report.epoch_end(self.model, st["history"])
            decision = stop.agree(budget_spent=st["wall_seconds"] >= budget, now=True)  # the same on every process
            if decision == "signal":  # the signal came during the epoch's last step, its validation or save
                self.log_interrupted()
                return "interrupted"
            if decision == "budget":
                self.log(f"finished epochs={st['epoch']} best_val_loss={st['best_val_loss']:.4f} (time budget)")
                return "time budget reached"
        self.log(f"finished epochs={st['epoch']} best_val_loss={st['best_val_loss']:.4f}")
        return "finished"


def train(source: str, *, config_file: str | None = None, overrides: dict | None = None,
          out_dir: str | None = None, quiet: bool = False, say: Callable[[str], None] = _say_default) -> TrainResult:
    """Train a new run on `source` (raw text, SOURCE spec or prepared dir), or continue the run at `source`."""
    run, cfg, data, resumed, job = open_run_in_job(source, config_file, overrides or {}, out_dir)
    try:  # the chief holds the run's lock from open_run until training ends
        return _train_opened(source, run, cfg, data, resumed, job, quiet, say)
    finally:
        run.release_lock()


def _train_opened(source: str, run: RunDir, cfg: Config, data: Prepared, resumed: bool, job, quiet: bool,
                  say: Callable[[str], None]) -> TrainResult:
    if not job.is_chief:
        quiet = True  # process 0 reports; the others only train
    branched = resumed and is_run_dir(source) and not same_path(source, run.path)
    origin = run.info().get("branched_from") if branched else None
    if origin and not quiet:
        say(f"branched from '{source}' at global step {origin['global_step']} (it stays unchanged); "
            f"continuing in '{run.path}'")
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
        return _resume_and_train(run, cfg, data, resumed, job, say, quiet)


def _resume_and_train(run: RunDir, cfg: Config, data: Prepared, resumed: bool, job: distribute.Job, say,
                      quiet: bool) -> TrainResult:
    removed = run.clean_temps() if job.is_chief else []
    if removed:
        say(f"removed {len(removed)} unfinished temporary file(s) left by an interrupted save")
    if resumed and job.is_chief:
        atomic.write_text(run.path / "config.yaml", dump_yaml(cfg))
        try:
            intact = Vocab.load(run.path / "vocab.json").chars == data.vocab.chars
        except LstmgenError:
            intact = False
        if not intact:  # missing or damaged: the run's data has the same vocabulary
            data.vocab.save(run.path / "vocab.json")
    newest = run.checkpoints()[:1] if resumed else []
    if newest and newest[0][1].get("step") == 0 and newest[0][1].get("epoch", 0) >= cfg.epochs:
        done = newest[0][1]
        say(f"run '{run.path}' has already trained {done['epoch']} epochs; pass --epochs N (N > {done['epoch']}) "
            "to train further")
        return TrainResult(run.path, "already finished", done["epoch"], done["global_step"], done.get("best_val_loss"))
    plan = distribute.setup(cfg, job)
    with plan.scope():
        return _train_in_scope(run, cfg, data, resumed, say, quiet, plan)


def _train_in_scope(run: RunDir, cfg: Config, data: Prepared, resumed: bool, say, quiet: bool,
                    plan: distribute.Plan) -> TrainResult:
    trainer = Trainer(run, cfg, data, say, quiet, plan)
    if not quiet:
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
    if st["epoch"] >= cfg.epochs:
        say(f"run '{run.path}' has already trained {st['epoch']} epochs; pass --epochs N (N > {st['epoch']}) "
            "to train further")
        return TrainResult(run.path, "already finished", st["epoch"], st["global_step"], st["best_val_loss"])
    if cfg.max_minutes and st["wall_seconds"] >= cfg.max_minutes * 60:
        say(f"run '{run.path}' has used its time budget ({cfg.max_minutes:g} min); pass --max-minutes M "
            "(more) or 0 (no limit) to train further")
        return TrainResult(run.path, "time budget reached", st["epoch"], st["global_step"], st["best_val_loss"])
    if not quiet:
        params = trainer.model.count_params()
        say(f"run {run.path}: {params:,} parameters, {trainer.steps} steps/epoch × {cfg.epochs} epochs, "
            f"batch {cfg.batch_size} × {cfg.seq_len}, {backend.describe()}, precision {trainer.policy}, "
            f"XLA {trainer.jit}, {trainer.threads}, steps_per_execution {cfg.steps_per_execution}, {trainer.kernel}")
    trainer.report = EpochReport(run, cfg, data, say, quiet) if plan.is_chief else None
    with StopFlag(plan.job) as stop:  # the run's lock is held by train() since open_run
        try:
            status = trainer.fit(stop)
        finally:
            if trainer.report is not None:
                trainer.report.close()
    if plan.replicas > 1:
        check = plan.check_replicas(trainer.model)
        trainer.log(check)
        say(check)
    if status == "interrupted":
        say(f"stopped by {stop.reason or 'request'} at epoch {st['epoch'] + 1}, step {st['step']}; checkpoint saved. "
            f"Resume with: lstmgen train {run.path}")
    return TrainResult(run.path, status, st["epoch"], st["global_step"], st["best_val_loss"])
