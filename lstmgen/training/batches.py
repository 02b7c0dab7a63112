"""Batches cut on the fly from the memory-mapped id stream; targets are the inputs shifted by one.

No window matrix is ever built: an epoch is a random offset in [0, seq_len) plus a permutation of the
non-overlapping windows that start there, both derived from (seed, epoch) so any position can be recomputed.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from lstmgen.runtime.backend import keras


def draw_offset(rng: np.random.Generator, n_ids: int, seq_len: int) -> int:
    """An epoch's start offset in [0, seq_len): the first draw of its (seed, epoch) generator."""
    return int(rng.integers(seq_len)) if n_ids - 1 >= 2 * seq_len else 0


def epoch_order(n_ids: int, seq_len: int, batch_size: int, seed: int, epoch: int) -> np.ndarray:
    """Window start positions for one epoch, in training order, trimmed to whole batches."""
    rng = np.random.default_rng([seed, epoch])
    offset = draw_offset(rng, n_ids, seq_len)
    n_windows = (n_ids - 1 - offset) // seq_len
    starts = offset + seq_len * rng.permutation(n_windows)
    usable = (n_windows // batch_size) * batch_size
    return starts[:usable].astype(np.int64)


def pass_rows(n_ids: int, seq_len: int, batch_size: int, seed: int, epoch: int) -> int:
    """len(epoch_order(...)) without the permutation: only the offset is drawn."""
    offset = draw_offset(np.random.default_rng([seed, epoch]), n_ids, seq_len)
    return (n_ids - 1 - offset) // seq_len // batch_size * batch_size


def steps_in_epoch(n_ids: int, seq_len: int, batch_size: int) -> int:
    """Whole batches available in the worst case (largest offset), so every epoch has the same length."""
    worst_offset = seq_len - 1 if n_ids - 1 >= 2 * seq_len else 0
    return max((n_ids - 1 - worst_offset) // seq_len // batch_size, 0)


def gather(ids: np.ndarray, starts: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    window = ids[starts[:, None] + np.arange(seq_len + 1)].astype(np.int32)
    return window[:, :-1], window[:, 1:]


class TrainBatches(keras.utils.PyDataset):
    """Random-offset, shuffled training batches for one epoch, optionally starting mid-epoch.

    `batch_size` is the global batch; with `shard=(i, n)` this yields rows [i·B/n, (i+1)·B/n) of each global
    batch (process i of n in a multi-process job), so the n shards together are exactly the single-process batch."""

    def __init__(
        self, ids: np.ndarray, seq_len: int, batch_size: int, seed: int, steps: int, shard: tuple[int, int] = (0, 1)
    ):
        super().__init__()
        self.ids, self.seq_len, self.batch_size, self.seed = ids, seq_len, batch_size, seed
        self.steps, self.shard = steps, shard
        self.set_epoch(0)

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        """Start `epoch` at `start_step`. A steps_per_epoch longer than one pass over the windows continues with
        further passes (pass k ordered as epoch + 100_003·k), cut lazily: nothing here is O(steps)."""
        self.epoch, self.start_step = epoch, start_step
        self._bounds = [0]  # the first row of each pass sized so far, then the end of the last one
        self._pass = (0, epoch_order(len(self.ids), self.seq_len, self.batch_size, self.seed, epoch))

    @property
    def order(self) -> np.ndarray:
        """The window starts of the pass in use."""
        return self._pass[1]

    def _pass_epoch(self, k: int) -> int:
        return self.epoch + 100_003 * k

    def _rows(self, step: int) -> np.ndarray:
        """Window starts of batch `step` of the epoch; batches never straddle passes (whole batches each)."""
        row = step * self.batch_size
        while self._bounds[-1] <= row:
            size = pass_rows(
                len(self.ids), self.seq_len, self.batch_size, self.seed, self._pass_epoch(len(self._bounds) - 1)
            )
            if size == 0:
                raise ValueError("fewer windows than one batch")  # check_trainable refuses this earlier
            self._bounds.append(self._bounds[-1] + size)
        k = bisect.bisect_right(self._bounds, row) - 1
        if self._pass[0] != k:
            self._pass = (k, epoch_order(len(self.ids), self.seq_len, self.batch_size, self.seed, self._pass_epoch(k)))
        first = row - self._bounds[k]
        return self._pass[1][first : first + self.batch_size]

    def __len__(self) -> int:
        return self.steps - self.start_step

    def __getitem__(self, index: int):
        return gather(self.ids, shard_rows(self._rows(self.start_step + index), self.shard), self.seq_len)


class StreamBatches(TrainBatches):
    """Stateful training's batches: row i of batch k is window k of stream i, so each row continues the text of
    the same row in the batch before: `batch_size` contiguous streams of the text from the pass's random offset.
    Inputs are `(ids, keep)`: keep is 0 in a pass's first batch (the carried LSTM state is reset there) and 1 after.
    A steps_per_epoch longer than a pass starts further passes (new offsets)."""

    def _window(self, step: int) -> tuple[np.ndarray, bool]:
        per_pass = steps_in_epoch(len(self.ids), self.seq_len, self.batch_size)  # every offset has as many
        if per_pass == 0:
            raise ValueError("text too short for one stateful batch")  # check_trainable refuses this earlier
        k, j = divmod(step, per_pass)
        offset = draw_offset(np.random.default_rng([self.seed, self._pass_epoch(k)]), len(self.ids), self.seq_len)
        length = (len(self.ids) - 1 - offset) // self.batch_size
        return offset + length * np.arange(self.batch_size, dtype=np.int64) + j * self.seq_len, j == 0

    def __getitem__(self, index: int):
        starts, first = self._window(self.start_step + index)
        x, y = gather(self.ids, shard_rows(starts, self.shard), self.seq_len)
        keep = np.full((len(x), 1), 0.0 if first else 1.0, dtype=np.float32)
        return (x, keep), y


class ValBatches(keras.utils.PyDataset):
    """Consecutive non-overlapping windows covering the validation split, in order.

    With `replicas` > 1 the window count and batch size are trimmed to multiples of it (every replica gets an equal
    share; at most replicas − 1 windows are left out), and `shard=(i, n)` yields process i's rows of each batch."""

    def __init__(
        self, ids: np.ndarray, seq_len: int, batch_size: int, replicas: int = 1, shard: tuple[int, int] = (0, 1)
    ):
        super().__init__()
        self.ids, self.seq_len, self.shard = ids, seq_len, shard
        n_windows = max((len(ids) - 1) // seq_len, 0)
        n_windows -= n_windows % replicas
        self.starts = np.arange(n_windows, dtype=np.int64) * seq_len
        self.batch_size = max(batch_size - batch_size % replicas, replicas)

    def __len__(self) -> int:
        return math.ceil(len(self.starts) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.starts[index * self.batch_size : (index + 1) * self.batch_size]
        return gather(self.ids, shard_rows(rows, self.shard), self.seq_len)


def shard_rows(rows: np.ndarray, shard: tuple[int, int]) -> np.ndarray:
    """Shard i of n: the i-th of n equal consecutive parts of a batch (the whole batch when n is 1)."""
    i, n = shard
    part = len(rows) // n
    return rows[i * part : (i + 1) * part]
