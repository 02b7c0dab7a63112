"""`estimate` on every real public log in tests/fixtures/logs/real (sources in SOURCES.md), and on the hard cases
they hold: a Keras 3 compile stall, an 'input ran out of data' epoch, checkpoint and LR lines inside Keras 3
epochs, two fits in one file, a log cut mid-epoch, a checkpoint message glued to an ETA bar, an LR line before
its epoch header, an indented Keras 3 log, a log that starts at epoch 39."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmgen.eta.estimate import estimate
from lstmgen.eta.logparse import parse_log
from lstmgen.eta.logruns import build_runs
from lstmgen.eta.rate import _resolution

REAL = Path(__file__).parent / "fixtures" / "logs" / "real"
FILES = sorted(REAL.glob("*.txt"))
NOW = datetime(2025, 1, 1, 12, 0, 0)


def est_of(data: bytes, **kw):
    return estimate(parse_log(data), now=NOW, **kw)


def test_the_real_set_is_what_sources_md_lists():
    listed = (REAL / "SOURCES.md").read_text()
    assert len(FILES) >= 32
    assert all(f.name in listed for f in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_real_log_parses_and_forecasts_each_run_with_a_finished_epoch(path):
    events = parse_log(path.read_bytes())
    runs = build_runs(events)
    assert runs
    for i, run in enumerate(runs, 1):
        if any(e.complete for e in run.epochs):
            est = estimate(events, now=NOW, run=i)
            assert est is not None and est.run == i
            assert est.finished or (est.remaining_s is not None and est.remaining_s >= 0)
            if not est.finished:
                assert est.run_end_low <= est.run_end <= est.run_end_high


def test_keras3_compile_stall_in_epoch_1_does_not_set_the_speed():
    data = (REAL / "kerasio_anomaly_keras3_compile_stall.txt").read_bytes()
    est = est_of(data[: data.index(b"Epoch 5/50")])  # epochs 1-4 seen: 10 s, then 27 × 5 ms
    assert est.seconds_per_epoch == pytest.approx(0.135, rel=0.1)  # not ~10 s
    assert any("compilation" in n for n in est.notes)


def test_real_ran_out_of_data_epoch_is_left_out_of_the_speed():
    est = est_of((REAL / "issue_abhi8893_ran_out_of_data.txt").read_bytes())
    assert est.epochs == 50
    assert est.seconds_per_epoch == pytest.approx(4.5, rel=0.05)  # epoch 11's 0.5 s is not a speed


def test_ran_out_of_data_warning_alone_does_not_drop_a_normal_epoch():
    est = est_of((REAL / "issue_tf64035_first_epoch_stall.txt").read_bytes())  # validation input ran out
    assert est.seconds_per_epoch == pytest.approx(115, rel=0.05)  # epoch 1 (654 s) compiled; epoch 2 counts
    assert est.remaining_s == pytest.approx(7 * 115, rel=0.1)  # epoch 3 is at 213/213 (ETA 0s): 4-10 left


def test_keras3_epochs_with_checkpoint_and_lr_lines_forecast_the_rest():
    data = (REAL / "amrelbaroudy_road_keras3_checkpoint.txt").read_bytes()
    est = est_of(data[: data.index(b"Epoch 11/40")], epochs=26)
    truth = sum([45, 47, 46, 47, 47, 46, 46, 45, 45, 45, 46, 47, 46, 47, 48, 47, 48])  # epochs 10-26, rounded
    assert est.remaining_s == pytest.approx(truth - 46, rel=0.05)
    assert est.run_end_low < est.run_end < est.run_end_high


def test_two_fits_in_one_keras3_file():
    data = (REAL / "kerasio_autoencoder_keras3_2runs.txt").read_bytes()
    last = est_of(data)
    assert last.runs_in_file == 2 and last.run == 2 and last.epochs == 100 and not last.finished
    assert last.remaining_s == pytest.approx(80 * 1.41, rel=0.1)
    first = est_of(data, run=1)
    assert first.finished and first.epochs == 50


def test_log_cut_mid_epoch_forecasts_that_epoch_and_the_rest():
    est = est_of((REAL / "kerasio_mnist_convnet_keras2_cut.txt").read_bytes())
    assert est.epoch == 12 and est.epochs == 15 and not est.finished
    assert 3 * 13 < est.remaining_s < 4 * 19  # the rest of epoch 12 (185 of 422 steps) and 3 more


def test_checkpoint_message_on_the_eta_bar_line_keeps_the_epochs():
    est = est_of((REAL / "issue_keras7782_checkpoint_glued_to_bar.txt").read_bytes())
    assert est.epoch == 12 and est.epochs == 100 and not est.finished
    assert est.remaining_s == pytest.approx(88 * 497, rel=0.02)  # epochs 10-12: 499, 501, 491 s


def test_lr_line_before_the_epoch_header_and_a_finished_bar_with_eta():
    est = est_of((REAL / "pr_root19250_lr_line_before_header.txt").read_bytes())
    assert est.epoch == 7 and est.epochs == 20 and not est.finished  # 200/200 with 'ETA: 0s' is not the end
    assert est.remaining_s == pytest.approx(13 * 0.145, rel=0.15)  # epochs 8-20 at ~0.145 s, epoch 7 at 200/200


def test_indented_keras3_log_and_a_log_that_starts_at_epoch_39():
    moku = est_of((REAL / "moku_sine_keras3_indented.txt").read_bytes())
    assert moku.epoch == 24 and moku.epochs == 1000
    assert moku.seconds_per_epoch == pytest.approx(0.018, rel=0.1)  # 18 steps × 1 ms; epoch 1 (1 s) compiled
    late = est_of((REAL / "issue_keras8680_keras1_from_epoch39.txt").read_bytes())
    assert late.epoch == 49 and late.epochs == 200
    assert late.remaining_s == pytest.approx(152 * 478, rel=0.02)


def test_a_one_digit_per_step_figure_widens_the_range():
    """'0s 1ms/step' is anything from 0.5 to 1.5 ms a step: the range must not be a point (it was ±0.4 %)."""
    data = (REAL / "moku_sine_keras3_indented.txt").read_bytes()
    est = est_of(data[: data.index(b"Epoch 6/1000")], epochs=23)
    assert (est.run_end_high - est.run_end_low).total_seconds() > 0.3 * est.remaining_s
    runs = build_runs(parse_log(data))
    assert _resolution(runs[0], 0.018) == pytest.approx(1.0)  # 2 × 0.5 ms / 1 ms
    three_digits = build_runs(parse_log((REAL / "issue_keras10506_fit_generator.txt").read_bytes()))
    assert _resolution(three_digits[0], 186.0) < 0.003  # '439ms/step': a 0.2 % rounding step


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FILES), st.integers(0, 10**6), st.integers(0, 200), st.binary(max_size=8))
def test_real_logs_cut_or_mangled_anywhere_never_raise(path, at, drop, junk):
    data = path.read_bytes()
    at %= len(data) + 1
    mangled = data[:at] + junk + data[at + drop :]
    events = parse_log(mangled)
    for i, _ in enumerate(build_runs(events), 1):
        estimate(events, now=NOW + timedelta(hours=1), run=i)


def test_keras2_lines_with_every_metric_column_kept():
    """The keras-io timeseries and MLP-Mixer/FNet logs are verbatim copies: each finished bar carries all its
    columns (`sparse_categorical_accuracy`, `val_*`, `lr`; `acc`, `top5-acc`, `val_*`), and every epoch still
    counts."""
    ts = (REAL / "kerasio_timeseries_fcn_keras2_first46.txt").read_bytes()
    assert ts.count(b" - val_sparse_categorical_accuracy: ") == 46 and ts.count(b" - lr: 0.0010\n") == 46
    est = est_of(ts)
    assert est.epoch == 47 and est.epochs == 500 and not est.finished
    mix = (REAL / "kerasio_mlp_mixer_fnet_keras2_2runs.txt").read_bytes()
    assert mix.count(b" - val_top5-acc: ") == 100
    runs = build_runs(parse_log(mix))
    assert [sum(e.complete for e in r.epochs) for r in runs] == [50, 50]
    fnet = est_of(mix)
    assert fnet.runs_in_file == 2 and fnet.finished and fnet.epochs == 50
