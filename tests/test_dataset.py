import numpy as np

from lstmgen.training.batches import TrainBatches, ValBatches, epoch_order, gather, steps_in_epoch


def test_targets_are_inputs_shifted_by_one():
    ids = np.arange(10_000, dtype=np.uint16) % 997
    batches = TrainBatches(ids, seq_len=20, batch_size=8, seed=3, steps=steps_in_epoch(len(ids), 20, 8))
    x, y = batches[0]
    assert x.shape == y.shape == (8, 20) and x.dtype == np.int32
    assert np.array_equal(x[:, 1:], y[:, :-1])
    starts = x[:, 0].astype(np.int64)
    assert np.array_equal(y[:, -1], (starts + 20) % 997)


def test_epoch_covers_distinct_windows_and_differs_between_epochs():
    n, seq, batch = 5001, 10, 4
    a = epoch_order(n, seq, batch, seed=1, epoch=0)
    b = epoch_order(n, seq, batch, seed=1, epoch=1)
    assert len(set(a.tolist())) == len(a)  # no window twice in an epoch
    assert len(np.unique(a % seq)) == 1  # one offset per epoch, non-overlapping windows
    assert not np.array_equal(a, b)
    assert np.array_equal(a, epoch_order(n, seq, batch, seed=1, epoch=0))  # reproducible
    assert a.max() + seq + 1 <= n


def test_no_window_matrix_is_built():
    ids = np.zeros(1_000_000, dtype=np.uint8)
    batches = TrainBatches(ids, seq_len=100, batch_size=16, seed=0, steps=steps_in_epoch(len(ids), 100, 16))
    # the per-epoch plan is one int64 start per window, not a copy of the windows themselves
    assert batches.order.nbytes <= 8 * len(ids) // 100 + 8


def test_mid_epoch_start_skips_exactly_the_done_batches():
    ids = np.arange(4000, dtype=np.uint16)
    full = TrainBatches(ids, 10, 4, seed=5, steps=steps_in_epoch(4000, 10, 4))
    full.set_epoch(2)
    part = TrainBatches(ids, 10, 4, seed=5, steps=full.steps)
    part.set_epoch(2, start_step=7)
    assert len(part) == len(full) - 7
    assert np.array_equal(part[0][0], full[7][0])


def test_validation_windows_cover_split_in_order():
    ids = np.arange(1005, dtype=np.uint16)
    val = ValBatches(ids, seq_len=10, batch_size=32)
    xs = np.concatenate([val[i][0] for i in range(len(val))])
    assert xs.shape == (100, 10)
    assert np.array_equal(xs.ravel(), np.arange(1000))


def test_gather_reads_requested_windows():
    ids = np.arange(100, dtype=np.uint8)
    x, y = gather(ids, np.array([5, 50]), 3)
    assert x.tolist() == [[5, 6, 7], [50, 51, 52]] and y.tolist() == [[6, 7, 8], [51, 52, 53]]
