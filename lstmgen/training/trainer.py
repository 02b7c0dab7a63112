"""The Trainer: one run's model, its TrainState and the epoch loop (`model.fit` one epoch at a time, validation,
checkpoints, metrics and train.log lines). `lstmgen.training.train.train` opens the run and drives it."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from lstmgen import __version__
from lstmgen.config import Config
from lstmgen.data.batches import TrainBatches, ValBatches, steps_in_epoch
from lstmgen.data.prepared import Prepared
from lstmgen.errors import RunError
from lstmgen.eta.track import EtaTracker, eta_line
from lstmgen.runs.rundir import RunDir, now_iso
from lstmgen.runs.state import TrainState
from lstmgen.runtime import backend
from lstmgen.runtime.backend import keras
from lstmgen.training import distribute
from lstmgen.training.epoch_report import EpochReport
from lstmgen.training.model import learning_rate, restore_seed_states, seed_states, set_weights
from lstmgen.training.monitor import TrainMonitor, ValidationBar
from lstmgen.training.runopen import check_trainable
from lstmgen.training.setup import setup_model
from lstmgen.training.stopping import StopFlag
from lstmgen.training.usercallbacks import UserCallbacks
from lstmgen.util import atomic
from lstmgen.util.output import current

LN2 = math.log(2)


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
        self.run, self.cfg, self.data = run, cfg, data
        self.plan = plan or distribute.setup(cfg)
        self.callbacks = list(callbacks)
        self.notes = notes if notes is not None else Notes()
        self.steps = check_trainable(cfg, data)
        self.has_val = len(data.val) > cfg.seq_len
        self.report: EpochReport | None = None  # loss plot, TensorBoard, per-epoch samples (set by train())
        self.state = TrainState(seed=cfg.seed)

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
            self.state = state
            restore_seed_states(self.model, state.seed_states)
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
        total = st.global_step + max(self.steps - st.step, 0) + (cfg.epochs - st.epoch - 1) * self.steps
        changed = total != cfg.epochs * self.steps  # some epochs had another length
        if changed and st.epoch < cfg.epochs and cfg.lr_schedule != "constant":
            self.model.optimizer.learning_rate = learning_rate(self.plan.scaled(cfg), total)

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
            with atomic.atomic_path(path) as tmp, self.plan.local():
                self.model.save(tmp)
            st.status, st.config, st.seed_states = status, self.cfg.resolved(), seed_states(self.model)
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

    def learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def fit(self, stop: StopFlag) -> str:
        """Train the remaining epochs; returns finished | interrupted | time budget reached | stopped by a
        callback. The caller's callbacks see the whole of it as one training (`usercallbacks`)."""
        user = UserCallbacks(self.callbacks, self.model, self.cfg.epochs, self.steps)
        user.train_begin()
        status = self._fit(stop, user)
        user.train_end(
            {k: v for k, v in (self.state.history[-1] if self.state.history else {}).items() if isinstance(v, float)}
        )
        return status

    def _fit(self, stop: StopFlag, user: UserCallbacks) -> str:
        cfg, st = self.cfg, self.state
        batches = TrainBatches(
            self.data.train, cfg.seq_len, cfg.batch_size, cfg.seed, self.steps, shard=self.plan.shard
        )
        if self.plan.replicas > 1:
            self.log(self.plan.describe())
        self.log(
            f"start run={self.run.path} epochs={cfg.epochs} steps_per_epoch={self.steps} "
            f"batch={cfg.batch_size} seq_len={cfg.seq_len} "
            f"resumed_from={f'global_step_{st.global_step}' if st.global_step else 'none'}"
        )
        budget = cfg.max_minutes * 60 or math.inf
        mark = time.monotonic()  # wall time is accounted from here: steps, validation, saves and reports
        eta = EtaTracker()  # the `estimate --log` forecast, fed this run's epoch times
        while st.epoch < cfg.epochs:
            epoch_start, base_elapsed, fit_loss = time.monotonic(), st.epoch_elapsed, float("nan")
            if st.step < self.steps:  # else: an epoch resumed with a shorter length, closed at once
                batches.set_epoch(st.epoch, st.step)
                monitor = TrainMonitor(self, stop, budget, batches.start_step)
                fit_logs = self.model.fit(
                    backend.fit_input(batches),
                    epochs=1,
                    verbose=0,
                    shuffle=False,
                    callbacks=[monitor, *user.epoch_begin(st.epoch, batches.start_step)],
                )
                monitor.close()
                if monitor.stopped:
                    st.wall_seconds += time.monotonic() - mark
                    reason = "time budget reached" if monitor.stopped == "budget" else "interrupted"
                    self.save_checkpoint(status=reason)
                    self.log_interrupted()
                    return reason
                fit_loss = float(fit_logs.history["loss"][-1])
            val_loss = self.validate()
            now = time.monotonic()
            st.wall_seconds += now - mark  # includes the previous epoch's checkpoint save and report
            mark = now
            epoch_seconds = base_elapsed + now - epoch_start  # earlier parts of a resumed epoch included
            best, loss, epoch_steps = self._end_epoch(val_loss, fit_loss, epoch_seconds)
            stopped = user.epoch_end(
                st.epoch - 1, {k: st.history[-1].get(k) for k in ("loss", "val_loss", "learning_rate")}
            )
            self.save_checkpoint(
                best=best, status="stopped by a callback" if stopped else "interrupted" if stop.reason else "running"
            )
            val_text = (
                f"val_loss {val_loss:.4f} val_bpc {val_loss / LN2:.4f}"
                if val_loss is not None
                else "val_loss nan val_bpc nan"
            )
            self.log(
                f"epoch {st.epoch}/{cfg.epochs} end steps {epoch_steps}/{epoch_steps} "
                f"time {epoch_seconds:.2f}s loss {loss:.4f} {val_text}"
            )
            eta.epoch_end(st.epoch, cfg.epochs, epoch_seconds, epoch_steps)
            if st.epoch < cfg.epochs:
                current().say(eta_line(eta.forecast()))
            shown = (
                f"val {val_loss:.4f} nats ({val_loss / LN2:.3f} bits/char)"
                if val_loss is not None
                else "no validation split"
            )
            current().say(
                f"epoch {st.epoch}/{cfg.epochs}: loss {loss:.4f}, {shown}, {epoch_seconds:.1f}s"
                + ("  *best" if best else "")
            )
            if self.report is not None:
                self.report.epoch_end(self.model, st.history)
            if stopped:
                self.log(f"finished epochs={st.epoch} best_val_loss={st.best_val_loss:.4f} (stopped by a callback)")
                return "stopped by a callback"
            decision = stop.agree(budget_spent=st.wall_seconds >= budget, now=True)  # the same on every process
            if decision == "signal":  # the signal came during the epoch's last step, its validation or save
                self.log_interrupted()
                return "interrupted"
            if decision == "budget":
                self.log(f"finished epochs={st.epoch} best_val_loss={st.best_val_loss:.4f} (time budget)")
                return "time budget reached"
        self.log(f"finished epochs={st.epoch} best_val_loss={st.best_val_loss:.4f}")
        return "finished"

    def _end_epoch(self, val_loss: float | None, fit_loss: float, epoch_seconds: float) -> tuple[bool, float, int]:
        """Close the epoch in the state: counters, best score, its metrics row. Returns (best, loss, steps)."""
        st = self.state
        loss = st.epoch_loss_sum / st.epoch_loss_steps if st.epoch_loss_steps else fit_loss
        epoch_steps = st.step
        st.epoch, st.step = st.epoch + 1, 0
        st.epoch_loss_sum, st.epoch_loss_steps, st.epoch_elapsed = 0.0, 0, 0.0
        score = val_loss if val_loss is not None else loss
        best = st.best_val_loss is None or score < st.best_val_loss
        if best:
            st.best_val_loss, st.best_epoch = score, st.epoch
        st.history.append(
            {
                "epoch": st.epoch,
                "global_step": st.global_step,
                "train_seconds": round(st.train_seconds, 3),
                "wall_seconds": round(st.wall_seconds, 3),
                "epoch_seconds": round(epoch_seconds, 3),
                "loss": round(loss, 5),
                "val_loss": None if val_loss is None else round(val_loss, 5),
                "val_bpc": None if val_loss is None else round(val_loss / LN2, 5),
                "learning_rate": self.learning_rate(),
                "time": now_iso(),
            }
        )
        return best, loss, epoch_steps
