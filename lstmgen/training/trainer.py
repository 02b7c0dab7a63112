"""The Trainer: one run's model and its TrainState: building, restoring or fine-tuning the model, checkpoints,
validation and train.log lines; its epoch loop is `lstmgen.training.epochloop`. `lstmgen.training.train.train` opens
the run and drives it."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from lstmgen import __version__
from lstmgen.config import Config
from lstmgen.data.prepared import Prepared
from lstmgen.errors import RunError
from lstmgen.generation.sample import StepModel
from lstmgen.generation.scoring import stateful_loss
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.runfiles import now_iso
from lstmgen.runs.state import TrainState
from lstmgen.runtime import backend
from lstmgen.runtime.backend import keras
from lstmgen.training import distribute, ema
from lstmgen.training.batches import ValBatches, steps_in_epoch
from lstmgen.training.budget import epochs_in_budget
from lstmgen.training.epoch_report import EpochReport
from lstmgen.training.epochloop import run_epochs
from lstmgen.training.model import compile_model, learning_rate, restore_seed_states, seed_states, set_weights
from lstmgen.training.monitor import ValidationBar
from lstmgen.training.runopen import check_trainable
from lstmgen.training.setup import setup_model
from lstmgen.training.stateful import CarriedState, carried_to_json, restore_carried, stateful_model
from lstmgen.training.stopping import StopFlag
from lstmgen.training.usercallbacks import UserCallbacks
from lstmgen.util import atomic
from lstmgen.util.output import current


class Notes(list[str]):
    """The notes of one `train` call: each is kept, and shown through `on_note` (else said) as it happens."""

    def __init__(self, on_note: Callable[[str], None] | None = None):
        super().__init__()
        self.on_note = on_note

    def add(self, message: str) -> None:
        self.append(message)
        (self.on_note or current().say)(message)


class Trainer:
    """Trains `run` on `data` under `plan`. `notes` collects what is said that a quiet caller should still see
    (checkpoints skipped, where it resumed); `callbacks` are the caller's Keras callbacks, run after lstmgen's own."""

    def __init__(
        self,
        run: RunDir,
        cfg: Config,
        data: Prepared,
        plan: distribute.Plan | None = None,
        callbacks: Sequence = (),
        notes: Notes | None = None,
    ):
        self.run, self.cfg, self.data = run, dataclasses.replace(cfg), data  # cfg.epochs may be fitted to the budget
        self.epoch_cap = cfg.epochs  # what was asked for; checkpoints record it
        self.plan = plan or distribute.setup(cfg)
        self.callbacks = list(callbacks)
        self.notes = notes if notes is not None else Notes()
        self.steps = check_trainable(cfg, data)
        self.has_val = len(data.val) > cfg.seq_len
        self.report: EpochReport | None = None  # loss plot, TensorBoard, per-epoch samples (set by train())
        self.state = TrainState(seed=cfg.seed)
        self.carried: CarriedState | None = None  # stateful training's LSTM state (training/stateful.py)
        if cfg.stateful and self.plan.replicas > 1:
            raise RunError(
                f"--stateful trains on one device (this job has {self.plan.replicas} replicas); use --distribute off "
                "or --no-stateful"
            )

    def note(self, message: str) -> None:
        """A note a quiet caller still wants (see `Notes`)."""
        self.notes.add(message)

    # --- model --------------------------------------------------------------------------------------------
    def build(self) -> None:
        setup = setup_model(
            self.cfg,
            self.data.vocab.size,
            total_steps=self.cfg.epochs * self.steps,
            seed=self.cfg.seed,
            compile_cfg=self.plan.scaled(self.cfg),
        )
        self.model, self.threads, self.policy, self.jit, self.kernel = (
            setup.model,
            setup.threads,
            setup.precision,
            setup.jit,
            setup.kernel,
        )
        self.train_model = self.model  # what `fit` trains: the model itself, or its stateful wrapper
        if self.cfg.stateful:
            self.train_model, self.carried = stateful_model(self.model, self.cfg, self.cfg.batch_size)
            compile_model(self.train_model, self.cfg, 0, self.jit, optimizer=self.model.optimizer)

    def restore(self) -> bool:
        """Load the newest usable checkpoint (falling back past damaged states and unreadable models), weights and
        optimizer state; False when the run has none yet."""
        usable, damaged = self.run.scan_checkpoints()
        newest = usable[0][0].with_suffix(".json").name if usable else ""
        problems = [f"{path.name} is damaged: {why}" for path, why in damaged if path.name > newest]
        for problem in problems:
            self.note(f"checkpoint {problem}; trying an older one")
        for path, state in usable:
            try:
                self.model.load_weights(path)
            except Exception as e:  # a damaged file can fail in h5py, zipfile or Keras itself
                problems.append(f"{path.name} is unreadable ({e.__class__.__name__})")
                self.note(f"checkpoint {problems[-1]}; trying an older one")
                continue
            if state.seed is None:  # a state written before the seed was recorded
                state.seed = self.cfg.seed
            ema.after_restore(self.model)  # checkpoints hold the average as the model (training/ema.py)
            self.state = state
            restore_seed_states(self.model, state.seed_states)
            if self.carried is not None and state.step and not restore_carried(self.carried, state.carried_state):
                self.note(
                    f"{path.name} holds no LSTM state for this stateful run: epoch {state.epoch + 1} continues "
                    "from a zero state"
                )
            self.note(
                f"resuming from {path.name}: epoch {state.epoch + 1}, step {state.step} "
                f"(global step {state.global_step})"
            )
            self.resize_epoch(state.config.get("steps_per_epoch"))
            return True
        if problems:
            shown = "; ".join(problems[:2]) + (f"; and {len(problems) - 2} more" if len(problems) > 2 else "")
            raise RunError(f"no checkpoint in '{self.run.path}' can be used ({shown}); start a new run with -o NEW_DIR")
        return False

    def start_from_base(self) -> None:
        """Fine-tuning: the base model's weights, carried over to this run's vocabulary (lstmgen/remap.py)."""
        from lstmgen.runs.basemodel import resolve_base
        from lstmgen.training.remap import remap

        base = resolve_base(self.cfg.init_from, warn=self.note)
        recorded = self.run.info().get("base") or {}
        if recorded.get("sha256") not in (None, base.sha256):
            raise RunError(
                f"base model '{base.path}' changed since run '{self.run.path}' was started (sha256 "
                f"{base.sha256[:12]}…, recorded {str(recorded['sha256'])[:12]}…); restore it, or start "
                "a new run with -o NEW_DIR"
            )
        counts = np.bincount(np.asarray(self.data.train), minlength=self.data.vocab.size)
        remapped = remap(base.weights, base.vocab, self.data.vocab, counts)
        set_weights(self.model, remapped.weights)
        frozen = f"; first {self.cfg.freeze_layers} LSTM layer(s) frozen" if self.cfg.freeze_layers else ""
        current().say(f"fine-tuning from {base.spec}: {remapped.summary()}{frozen}")

    def resize_epoch(self, saved_steps_per_epoch) -> None:
        """A resumed epoch ends at the new --steps-per-epoch: one that already ran as many steps ends now (validated,
        with its metrics row), a shorter one runs on to the new length; later epochs have the new length. The
        learning-rate schedule then spans the steps the whole run will have taken."""
        st, cfg = self.state, self.cfg
        old = (
            saved_steps_per_epoch
            if isinstance(saved_steps_per_epoch, int) and saved_steps_per_epoch > 0
            else steps_in_epoch(len(self.data.train), cfg.seq_len, cfg.batch_size)
        )
        if st.step and old != self.steps and st.step >= self.steps:
            self.note(
                f"epoch {st.epoch + 1} already ran {st.step} steps, at least the new --steps-per-epoch "
                f"{self.steps}: it ends now; later epochs have {self.steps} steps"
            )
        elif st.step and old != self.steps:
            self.note(
                f"epoch {st.epoch + 1} continues to {self.steps} steps (was {old}); later epochs have "
                f"{self.steps} steps"
            )
        if self._total_steps() != cfg.epochs * self.steps and st.epoch < cfg.epochs:  # some epochs had another length
            self._reschedule()

    def fit_to_budget(self) -> None:
        """With fit_to_budget, a time budget and a cosine schedule: plan as many epochs as fit in the budget (at most
        the ones asked for; training/budget.py) and end the schedule with the last of them. One process only: replicas
        would each time themselves and could disagree."""
        cfg = self.cfg
        if not (cfg.fit_to_budget and cfg.max_minutes) or cfg.lr_schedule != "cosine" or self.plan.job.processes > 1:
            return
        budget = cfg.max_minutes * 60
        planned = epochs_in_budget(self.epoch_cap, self.state.history, budget, self.steps)
        if planned > cfg.epochs:  # more only when they would fit 10 % slower too: no back and forth on a noisy pace
            planned = max(cfg.epochs, epochs_in_budget(self.epoch_cap, self.state.history, budget, self.steps, 1.1))
        if planned == cfg.epochs:
            return
        message = (
            f"time budget: {planned} of {self.epoch_cap} epochs fit in {cfg.max_minutes:g} min; the schedule ends there"
        )
        self.log(message)
        current().say(message)
        cfg.epochs = planned
        if self.state.epoch < planned:
            self._reschedule()

    def _total_steps(self) -> int:
        st = self.state
        return st.global_step + max(self.steps - st.step, 0) + (self.cfg.epochs - st.epoch - 1) * self.steps

    def _reschedule(self) -> None:
        """Make the learning-rate schedule span the steps the run will have taken, and have `fit` trace it anew."""
        if self.cfg.lr_schedule == "constant":
            return
        self.model.optimizer.learning_rate = learning_rate(self.plan.scaled(self.cfg), self._total_steps())
        self.train_model.train_function = None  # a traced step (TensorFlow, JAX) holds the old schedule's constants

    # --- checkpoints ----------------------------------------------------------------------------------
    def save_checkpoint(self, best: bool = False, status: str = "running") -> None:
        if not self.plan.is_chief:  # replicas hold the same weights: one copy, written by process 0
            return
        st = self.state
        path = self.run.checkpoint_path(st.global_step)
        try:
            if not self.run.ckpt_dir.is_dir():  # deleted while training: save into a new one, and say so
                self.run.ckpt_dir.mkdir()
                self.note(
                    f"checkpoints/ of '{self.run.path}' had disappeared (the checkpoints in it are lost); made it again"
                )
            with atomic.atomic_path(path) as tmp, self.plan.local(), ema.averaged(self.model):
                self.model.save(tmp)
            st.status, st.seed_states = status, seed_states(self.model)
            st.config = {**self.cfg.resolved(), "epochs": self.epoch_cap}
            st.carried_state = carried_to_json(self.carried) if self.carried is not None else None
            st.time, st.lstmgen_version = now_iso(), __version__
            self.run.commit_checkpoint(st, keep=self.cfg.keep_checkpoints, best=best)
            self.run.write_metrics(st.history)
        except OSError as e:
            if not path.with_suffix(".json").exists():  # its state was not committed: leave no half behind
                with contextlib.suppress(OSError):
                    path.unlink()
            raise RunError(
                f"could not save a checkpoint in '{self.run.path}': {e.strerror or e}; free space or fix "
                "permissions, then resume (earlier checkpoints are intact)"
            ) from None

    def log(self, message: str) -> None:
        """A train.log line, written by the chief only."""
        if self.plan.is_chief:
            self.run.log(message)

    def log_interrupted(self) -> None:
        self.log(
            f"interrupted epoch={self.state.epoch + 1} step={self.state.step} (resume with: lstmgen train "
            f"{self.run.path})"
        )

    # --- the loop ---------------------------------------------------------------------------------------
    def validate(self) -> float | None:
        """The validation loss over all replicas (Keras returns the global mean of the sharded batches)."""
        if not self.has_val:
            return None
        val = ValBatches(
            self.data.val, self.cfg.seq_len, self.cfg.val_batch_size, replicas=self.plan.replicas, shard=self.plan.shard
        )
        return float(self.model.evaluate(backend.fit_input(val), verbose=0, callbacks=[ValidationBar(len(val))]))

    def validate_stateful(self) -> float | None:
        """The validation loss with the LSTM state carried through the split (`stateful_val_streams` pieces), from
        the model's current weights in NumPy; None when it is off or there is no validation split."""
        if not self.has_val or not self.cfg.stateful_val_streams:
            return None
        step_model = StepModel.from_keras(self.model)
        return float(stateful_loss(step_model, np.asarray(self.data.val), self.cfg.stateful_val_streams)["nats"])

    def learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def fit(self, stop: StopFlag) -> str:
        """Train the remaining epochs; returns finished | interrupted | time budget reached | stopped by a
        callback. The caller's callbacks see the whole of it as one training (`usercallbacks`)."""
        self.fit_to_budget()  # a resumed run: the epochs its recorded pace fits in what is left of the budget
        user = UserCallbacks(self.callbacks, self.model, self.cfg.epochs, self.steps)
        user.train_begin()
        status = run_epochs(self, stop, user)
        user.train_end(
            {k: v for k, v in (self.state.history[-1] if self.state.history else {}).items() if isinstance(v, float)}
        )
        return status
