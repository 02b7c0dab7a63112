"""The epoch loop of a Trainer: `model.fit` one epoch at a time, validation, the epoch's metrics row, checkpoint,
train.log and progress lines, and the stop decisions between epochs."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from lstmgen.eta.track import EtaTracker, eta_line
from lstmgen.runs.runfiles import now_iso
from lstmgen.runtime import backend
from lstmgen.training import ema
from lstmgen.training.batches import StreamBatches, TrainBatches
from lstmgen.training.monitor import TrainMonitor
from lstmgen.training.stopping import StopFlag
from lstmgen.training.usercallbacks import UserCallbacks
from lstmgen.util.output import current

if TYPE_CHECKING:
    from lstmgen.training.trainer import Trainer

LN2 = math.log(2)


def run_epochs(trainer: Trainer, stop: StopFlag, user: UserCallbacks) -> str:
    """Train `trainer`'s remaining epochs (`Trainer.fit`); returns finished | interrupted | time budget reached |
    stopped by a callback."""
    cfg, st = trainer.cfg, trainer.state
    batches = (StreamBatches if cfg.stateful else TrainBatches)(
        trainer.data.train, cfg.seq_len, cfg.batch_size, cfg.seed, trainer.steps, shard=trainer.plan.shard
    )
    if trainer.plan.replicas > 1:
        trainer.log(trainer.plan.describe())
    trainer.log(
        f"start run={trainer.run.path} epochs={cfg.epochs} steps_per_epoch={trainer.steps} "
        f"batch={cfg.batch_size} seq_len={cfg.seq_len} "
        f"resumed_from={f'global_step_{st.global_step}' if st.global_step else 'none'}"
    )
    budget = cfg.max_minutes * 60 or math.inf
    mark = time.monotonic()  # wall time is accounted from here: steps, validation, saves and reports
    eta = EtaTracker()  # the `estimate --log` forecast, fed this run's epoch times
    while st.epoch < cfg.epochs:
        epoch_start, base_elapsed, fit_loss = time.monotonic(), st.epoch_elapsed, float("nan")
        if st.step < trainer.steps:  # else: an epoch resumed with a shorter length, closed at once
            batches.set_epoch(st.epoch, st.step)
            monitor = TrainMonitor(trainer, stop, budget, batches.start_step)
            fit_logs = trainer.train_model.fit(
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
                trainer.save_checkpoint(status=reason)
                trainer.log_interrupted()
                return reason
            fit_loss = float(fit_logs.history["loss"][-1])
        # validation, the checkpoint, the samples and the caller's epoch-end callbacks see the averaged weights
        with ema.averaged(trainer.model):
            val_loss = trainer.validate()
            val_stateful = trainer.validate_stateful()
            now = time.monotonic()
            st.wall_seconds += now - mark  # includes the previous epoch's checkpoint save and report
            mark = now
            epoch_seconds = base_elapsed + now - epoch_start  # earlier parts of a resumed epoch included
            best, loss, epoch_steps = _end_epoch(trainer, val_loss, val_stateful, fit_loss, epoch_seconds)
            stopped = user.epoch_end(
                st.epoch - 1, {k: st.history[-1].get(k) for k in ("loss", "val_loss", "learning_rate")}
            )
            spent = st.wall_seconds >= budget
            trainer.fit_to_budget()  # may end the run at this epoch
            budget_end = spent or st.epoch >= cfg.epochs < trainer.epoch_cap  # the checkpoint says so
            trainer.save_checkpoint(best=best, status=_checkpoint_status(stopped, bool(stop.reason), budget_end))
            _say_epoch(trainer, eta, val_loss, val_stateful, loss, epoch_seconds, epoch_steps, best)
            if trainer.report is not None:
                trainer.report.epoch_end(trainer.model, st.history)
        if stopped:
            trainer.log(f"finished epochs={st.epoch} best_val_loss={st.best_val_loss:.4f} (stopped by a callback)")
            return "stopped by a callback"
        decision = stop.agree(budget_spent=spent, now=True)  # the same on every process
        if decision == "signal":  # the signal came during the epoch's last step, its validation or save
            trainer.log_interrupted()
            return "interrupted"
        if decision == "budget":
            trainer.log(f"finished epochs={st.epoch} best_val_loss={st.best_val_loss:.4f} (time budget)")
            return "time budget reached"
    if cfg.epochs < trainer.epoch_cap:
        trainer.log(f"finished epochs={st.epoch} best_val_loss={st.best_val_loss:.4f} (time budget)")
        return "time budget reached"
    trainer.log(f"finished epochs={st.epoch} best_val_loss={st.best_val_loss:.4f}")
    return "finished"


def _say_epoch(
    trainer: Trainer,
    eta: EtaTracker,
    val_loss: float | None,
    val_stateful: float | None,
    loss: float,
    epoch_seconds: float,
    epoch_steps: int,
    best: bool,
) -> None:
    """The epoch's train.log line, the ETA forecast and the progress line."""
    st = trainer.state
    val_text = (
        f"val_loss {val_loss:.4f} val_bpc {val_loss / LN2:.4f}" if val_loss is not None else "val_loss nan val_bpc nan"
    ) + (f" val_loss_stateful {val_stateful:.4f}" if val_stateful is not None else "")
    trainer.log(
        f"epoch {st.epoch}/{trainer.cfg.epochs} end steps {epoch_steps}/{epoch_steps} "
        f"time {epoch_seconds:.2f}s loss {loss:.4f} {val_text}"
    )
    eta.epoch_end(st.epoch, trainer.cfg.epochs, epoch_seconds, epoch_steps)
    if st.epoch < trainer.cfg.epochs:
        current().say(eta_line(eta.forecast()))
    shown = (
        f"val {val_loss:.4f} nats ({val_loss / LN2:.3f} bits/char"
        + (f"; {val_stateful:.4f} nats with the state carried" if val_stateful is not None else "")
        + ")"
        if val_loss is not None
        else "no validation split"
    )
    current().say(
        f"epoch {st.epoch}/{trainer.cfg.epochs}: loss {loss:.4f}, {shown}, {epoch_seconds:.1f}s"
        + ("  *best" if best else "")
    )


def _checkpoint_status(stopped: bool, interrupted: bool, budget_end: bool) -> str:
    if stopped:
        return "stopped by a callback"
    if interrupted:
        return "interrupted"
    return "time budget reached" if budget_end else "running"


def _end_epoch(
    trainer: Trainer, val_loss: float | None, val_stateful: float | None, fit_loss: float, epoch_seconds: float
) -> tuple[bool, float, int]:
    """Close the epoch in the state: counters, best score, its metrics row. Returns (best, loss, steps)."""
    st = trainer.state
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
            "val_loss_stateful": None if val_stateful is None else round(val_stateful, 5),
            "learning_rate": trainer.learning_rate(),
            "time": now_iso(),
        }
    )
    return best, loss, epoch_steps
