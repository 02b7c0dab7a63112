"""The Keras callback that watches a training epoch: tqdm bar, train.log lines, mid-epoch checkpoints, stops."""

from __future__ import annotations

import time
from typing import Any

from lstmgen.runtime.backend import keras
from lstmgen.util.output import current


class TrainMonitor(keras.callbacks.Callback):
    """Counts steps into the trainer's state and stops cleanly on a signal or when the time budget is spent."""

    def __init__(self, trainer, stop, budget_seconds: float, start_step: int):
        super().__init__()
        self.trainer, self.stop, self.budget = trainer, stop, budget_seconds
        self.start_step = start_step
        self.stopped: str | None = None
        cfg = trainer.cfg
        st = trainer.state
        self.bar = current().bar(
            total=trainer.steps, initial=start_step, desc=f"epoch {st.epoch + 1}/{cfg.epochs}", unit="step", delay=0.0
        )
        self.chars_per_step = cfg.batch_size * cfg.seq_len  # the global batch: throughput of all replicas
        self.last_ckpt = time.monotonic()
        self.last_step_time = self.epoch_t0 = time.monotonic()  # set again when fit begins
        # an epoch resumed mid-way continues the loss mean and elapsed time of its earlier part
        self.base = (st.epoch_loss_sum, st.epoch_loss_steps, st.epoch_elapsed)

    def on_train_begin(self, logs=None):
        self.epoch_t0 = self.last_step_time = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        st, cfg = self.trainer.state, self.trainer.cfg
        # With steps_per_execution k, Keras calls this once per k steps with `batch` = the last step the execution
        # would reach; the epoch's last execution runs only the steps left, so the count is capped at the epoch end.
        done = min(self.start_step + batch + 1, self.trainer.steps)
        advanced = done - st.step
        before = st.global_step
        st.step = done
        st.global_step += advanced
        st.train_seconds += now - self.last_step_time
        self.last_step_time = now
        fit_steps = done - self.start_step
        st.epoch_loss_sum = self.base[0] + float((logs or {}).get("loss", float("nan"))) * fit_steps
        st.epoch_loss_steps = self.base[1] + fit_steps
        st.epoch_elapsed = self.base[2] + (now - self.epoch_t0)
        loss = st.epoch_loss_sum / st.epoch_loss_steps
        self.bar.update(advanced)
        if self.bar.n % 10 == 0 or done == self.trainer.steps:
            rate = self.bar.format_dict.get("rate") or 0
            self.bar.set_postfix(loss=f"{loss:.4f}", chars_s=f"{rate * self.chars_per_step:,.0f}", refresh=False)
        if crossed(done - advanced, done, cfg.log_every_steps):
            self.trainer.log(
                f"epoch {st.epoch + 1}/{cfg.epochs} step {done}/{self.trainer.steps} "
                f"loss {loss:.4f} elapsed {st.epoch_elapsed:.2f}s"
            )
            if self.trainer.report is not None:
                self.trainer.report.step(st.global_step, loss)
        # the same decision on every process of a job (one tiny collective there); on the last step the epoch ends
        # normally (validation, checkpoint) first
        decision = self.stop.agree(budget_spent=st.wall_seconds + (now - self.epoch_t0) >= self.budget)
        if decision and done < self.trainer.steps:
            self.stopped = decision
        if self.stopped:
            self.model.stop_training = True
            return
        due_time = cfg.checkpoint_minutes and now - self.last_ckpt >= cfg.checkpoint_minutes * 60
        due_steps = cfg.checkpoint_steps and crossed(before, st.global_step, cfg.checkpoint_steps)
        if (due_time or due_steps) and done < self.trainer.steps:
            assert self.model is not None  # on JAX, reading self.model re-attaches the weights (jax_state_sync)
            self.trainer.save_checkpoint()
            self.last_ckpt = time.monotonic()
            self.last_step_time += self.last_ckpt - now  # saving time is not training time

    def close(self):
        self.bar.close()


def crossed(before: int, after: int, every: int) -> bool:
    """True if a multiple of `every` lies in (before, after]: with steps_per_execution > 1 the step counter advances
    several steps at a time and may jump over the multiple itself."""
    return after // every > before // every


class ValidationBar(keras.callbacks.Callback):
    """A tqdm bar over the validation batches of `model.evaluate`."""

    def __init__(self, total: int):
        super().__init__()
        self.total = total
        self.bar: Any = None

    def on_test_begin(self, logs=None):
        self.bar = current().bar(total=self.total, desc="validation", unit="batch")

    def on_test_batch_end(self, batch, logs=None):
        self.bar.update(1)

    def on_test_end(self, logs=None):
        self.bar.close()
