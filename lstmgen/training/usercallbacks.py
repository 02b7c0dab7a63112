"""The caller's Keras callbacks (`lstmgen.train(..., callbacks=[...])`) seeing one training, as in a plain `fit`.

lstmgen calls `model.fit` once per epoch (it validates, checkpoints and reports between epochs), so callbacks handed
to those calls would see `on_train_begin` every epoch, epoch numbers that restart at 0 and no `val_loss`: an
`EarlyStopping` would reset its patience each epoch. Here they get `on_train_begin` once, `on_epoch_begin/end` with the
run's own 0-based epoch numbers, the epoch-end logs lstmgen computed (loss, val_loss, learning_rate), every batch with
its index in the epoch, and `on_train_end` once. Setting `model.stop_training` (what EarlyStopping does) ends the
training after that epoch, checkpoint saved.

    >>> run = lstmgen.train(corpus, epochs=50, callbacks=[keras.callbacks.EarlyStopping(patience=3)])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lstmgen.runtime.backend import keras


class _Batches(keras.callbacks.Callback):
    """Inside one epoch's `fit`: the caller's batch hooks, with batch numbers counted from the epoch's start."""

    def __init__(self, user: Any, first_batch: int):
        super().__init__()
        self.user, self.first = user, first_batch

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.user.on_train_batch_begin(self.first + batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.user.on_train_batch_end(self.first + batch, logs)


class UserCallbacks:
    """The caller's callbacks over a whole `Trainer.fit` (empty: every method does nothing)."""

    def __init__(self, callbacks: Sequence, model: Any, epochs: int, steps: int):
        self.active = bool(callbacks)
        self.model = model
        self.list = (
            keras.callbacks.CallbackList(list(callbacks), model=model, epochs=epochs, steps=steps, verbose=0)
            if callbacks
            else None
        )

    def train_begin(self) -> None:
        if self.list is not None:
            self.list.on_train_begin()

    def epoch_begin(self, epoch: int, first_batch: int) -> list:
        """Call before an epoch's `fit` (`epoch` 0-based); returns the callbacks to add to that `fit`."""
        if self.list is None:
            return []
        self.list.on_epoch_begin(epoch)
        return [_Batches(self.list, first_batch)]

    def epoch_end(self, epoch: int, logs: dict) -> bool:
        """Call after the epoch's validation; True when a callback asked training to stop."""
        if self.list is None:
            return False
        self.model.stop_training = False
        self.list.on_epoch_end(epoch, {k: v for k, v in logs.items() if v is not None})
        return bool(self.model.stop_training)

    def train_end(self, logs: dict | None = None) -> None:
        if self.list is not None:
            self.list.on_train_end(logs or {})
