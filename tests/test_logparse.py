"""lstmgen.eta.logparse / logformats / logruns: raw log bytes → events → runs and epochs."""

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logsynth as S
from lstmgen.eta.logparse import (
    EpochEnd,
    EpochHeader,
    Progress,
    RunEnd,
    RunStart,
    Timestamp,
    decode_log,
    looks_binary,
    normalise,
    parse_log,
)
from lstmgen.eta.logruns import build_runs

LOGS = Path(__file__).parent / "fixtures" / "logs"
SYN = LOGS / "synthetic"
REAL = sorted(LOGS.glob("*.txt"))


def events(data, kind=None):
    evs = parse_log(data.encode() if isinstance(data, str) else data)
    return [e for e in evs if kind is None or isinstance(e, kind)]


def runs(data):
    return build_runs(parse_log(data.encode() if isinstance(data, str) else data))


# --- the real sample logs -------------------------------------------------------------------------------------


def test_fixtures_are_byte_exact_copies_of_the_shared_logs():
    shared = Path("/work/shared/logs")
    if not shared.is_dir():
        pytest.skip("shared logs not present on this machine")
    for f in shared.iterdir():
        assert (LOGS / f.name).read_bytes() == f.read_bytes()


def test_keras3_verbose1_file():
    data = (LOGS / "keras_log_verbose1.txt").read_bytes()
    evs = parse_log(data)
    assert [(h.epoch, h.total) for h in evs if isinstance(h, EpochHeader)] == [(1, 3), (2, 3), (3, 3)]
    finals = [p for p in evs if isinstance(p, Progress) and p.final]
    assert [(p.step, p.total, p.elapsed_s, p.per_step_s) for p in finals] == [
        (30, 30, 3.0, pytest.approx(0.047)),
        (30, 30, 1.0, pytest.approx(0.040)),
        (30, 30, 1.0, pytest.approx(0.041)),
    ]
    first = next(p for p in evs if isinstance(p, Progress))
    assert (first.step, first.eta_s, first.per_step_s) == (1, 45.0, 2.0)  # step 1: compilation
    (run,) = build_runs(evs)
    assert run.total_epochs == 3 and run.finished and [e.steps for e in run.epochs] == [30, 30, 30]
    assert run.epochs[0].restart and not run.epochs[1].restart
    assert run.epochs[0].duration() == 3.0  # compilation is in it: not the steady 30 × 47 ms
    assert run.epochs[0].steady_duration() == pytest.approx(1.41)
    assert run.epochs[1].duration() == pytest.approx(1.2)  # 30 × 40 ms agrees with '1s' and is more precise


def test_keras3_tty_script_log_has_crlf_header_and_stamps():
    evs = parse_log((LOGS / "keras_log_verbose1_tty.txt").read_bytes())
    assert [h.epoch for h in evs if isinstance(h, EpochHeader)] == [1, 2, 3]
    stamps = [e for e in evs if isinstance(e, Timestamp)]
    assert len(stamps) == 2 and stamps[1].ts - stamps[0].ts == 11  # 'Script started/done … +00:00'


def test_keras3_unknown_steps_first_epoch():
    (run,) = runs((LOGS / "keras_log_verbose1_unknown_steps.txt").read_bytes())
    e1 = run.epochs[0]
    assert e1.snaps[0].total is None and e1.snaps[0].elapsed_s == 2.0  # '1/Unknown 2s': elapsed, not ETA
    assert e1.steps == 30 and e1.complete  # the final '30/30' tells the size
    assert run.epochs[1].steps == 30


def test_checkpoint_callback_lines_are_not_headers_and_final_comes_after_them():
    evs = parse_log((LOGS / "keras_log_verbose1_with_checkpoint.txt").read_bytes())
    assert [h.epoch for h in evs if isinstance(h, EpochHeader)] == [1, 2]
    (run,) = build_runs(evs)
    assert [e.final.step for e in run.epochs] == [10, 10] and run.finished


@pytest.mark.parametrize("name", ["keras_log_verbose2.txt", "keras_log_verbose2_unknown_steps.txt"])
def test_keras3_verbose2(name):
    (run,) = runs((LOGS / name).read_bytes())
    assert all(e.final is not None and e.final.elapsed_s is not None for e in run.epochs)
    assert run.epochs[1].final.per_step_s == pytest.approx(0.044)


# --- other formats -------------------------------------------------------------------------------------------


def test_keras2_interactive():
    (run,) = runs((SYN / "keras2_tty.txt").read_bytes())
    assert run.total_epochs == 5 and [e.number for e in run.epochs] == [1, 2, 3]
    assert run.epochs[0].final.elapsed_s == 29 and run.epochs[0].final.per_step_s == pytest.approx(478e-6)
    last = run.epochs[2].snaps[-1]
    assert (last.step, last.total, last.eta_s) == (20000, 60000, 16.0)


def test_keras2_file_one_line_per_update_and_per_sample_units():
    (run,) = runs((SYN / "keras2_file.txt").read_bytes())
    assert run.epochs[0].final.per_step_s == pytest.approx(1e-3)  # '1ms/sample'
    assert run.epochs[1].final.per_step_s == pytest.approx(983e-6)
    assert run.epochs[0].snaps[0].eta_s == 185  # 'ETA: 3:05'


@pytest.mark.parametrize(
    "line,expect",
    [
        ("5000/5000 [==============================] - 812s 162ms/step - loss: 1.2", (812.0, 0.162)),
        ("5000/5000 [==============================] - 8s 1s/sample - loss: 1.2", (8.0, 1.0)),
        ("5000/5000 [==============================] - 8s 16us/step - loss: 1.2", (8.0, 16e-6)),
        ("5000/5000 [==============================] - 8s - loss: 1.2", (8.0, None)),  # Keras 1
        ("    123/Unknown - 45s 365ms/step - loss: 0.5", (45.0, 0.365)),
        ("1875/1875 - 5s - loss: 0.4792 - accuracy: 0.8283 - 5s/epoch - 3ms/step", (5.0, 0.003)),  # tf 2.9+
        ("30/30 - 3s - 117ms/step - loss: 3.6894", (3.0, 0.117)),
    ],
)
def test_keras_summary_lines(line, expect):
    (p,) = events(line, Progress)
    assert p.elapsed_s == expect[0]
    assert p.per_step_s == (expect[1] and pytest.approx(expect[1]))


@pytest.mark.parametrize(
    "text,seconds", [("Epoch 1/3\n - 14s - loss: 0.69 - acc: 0.5\n", 14.0), ("Epoch 1/3\n14s - loss: 0.69\n", 14.0)]
)
def test_keras1_verbose2_epoch_totals(text, seconds):
    assert [e.duration_s for e in events(text, EpochEnd)] == [seconds]


@pytest.mark.parametrize("eta,seconds", [("1:02:03", 3723), ("166:39:30", 599970), ("1:02", 62), ("45s", 45)])
def test_eta_formats(eta, seconds):
    (p,) = events(f" 1200/5000 [=====>........................] - ETA: {eta} - loss: 1.2345")
    assert p.eta_s == seconds


@pytest.mark.parametrize(
    "line,expect",
    [
        ("Epoch 3/20:  45%|████▌     | 450/1000 [01:23<01:42,  5.37it/s, loss=1.23]", (450, 1000, 83, 1 / 5.37, 3, 20)),
        ("epoch 3/20:  45%|####5     | 450/1000 [1:01:23<1:00:42,  1.23s/it]", (450, 1000, 3683, 1.23, 3, 20)),
        ("  0%|          | 0/1000 [00:00<?, ?it/s]", (0, 1000, 0, None, None, None)),
        ("Training: 450it [01:23,  5.37it/s]", (450, None, 83, 1 / 5.37, None, None)),
        ("Epoch 2:  10%|█         | 1.2k/12.0k [00:10<01:30, 120.00it/s]", (1200, 12000, 10, 1 / 120, 2, None)),
    ],
)
def test_tqdm_bars(line, expect):
    (p,) = events("\r" + line)
    assert p.kind == "tqdm"
    got = (p.step, p.total, p.elapsed_s, p.per_step_s, p.epoch, p.epoch_total)
    assert got[:3] == expect[:3] and got[4:] == expect[4:]
    assert (got[3] is None) == (expect[3] is None) and (got[3] is None or got[3] == pytest.approx(expect[3]))


def test_tqdm_restarting_bars_are_epochs_and_validation_bars_are_not():
    tl = S.timeline(epochs=3, steps=40, step_s=1.0)
    (run,) = runs(b"".join(b for _, b in S.tqdm_bars(tl, desc=False, val_steps=5)))
    assert [e.number for e in run.epochs] == [1, 2, 3] and run.eval_bars == 3
    assert run.epochs[0].eval_parts  # validation time belongs to the epoch


def test_lightning_epochs_count_from_zero():
    (run,) = runs((SYN / "tqdm_lightning.txt").read_bytes())
    assert [e.number for e in run.epochs] == [1, 2] and run.eval_bars == 2


def test_lstmgen_train_log():
    evs = parse_log((SYN / "lstmgen_train.log").read_bytes())
    starts = [e for e in evs if isinstance(e, RunStart)]
    assert [(s.epochs, s.steps_per_epoch, s.resumed) for s in starts] == [(20, 156, False), (20, 156, True)]
    ends = [e for e in evs if isinstance(e, EpochEnd)]
    assert [(e.epoch, e.steps, e.duration_s) for e in ends][:2] == [(1, 156, 59.88), (2, 156, 60.0)]
    assert any(isinstance(e, RunEnd) and e.reason == "interrupted" and (e.epoch, e.step) == (3, 50) for e in evs)
    p = next(e for e in evs if isinstance(e, Progress))
    assert (p.epoch, p.step, p.total, p.elapsed_s) == (1, 10, 156, 5.33) and p.timestamp is not None
    (run,) = build_runs(evs)  # the resume continues the same run
    assert run.segments == 2 and [e.number for e in run.epochs] == [1, 2, 3, 4, 5]
    assert run.epochs[2].restart and not run.epochs[3].restart


def test_lstmgen_finished_line():
    text = (
        "2026-11-24 10:40:00.123 start run=r epochs=1 steps_per_epoch=5 batch=64 seq_len=100 resumed_from=none\n"
        "2026-11-24 10:40:05.000 epoch 1/1 end steps 5/5 time 5.00s loss 2.1 val_loss 2.0 val_bpc 2.9\n"
        "2026-11-24 10:40:06.000 finished epochs=1 best_val_loss=2.0000\n"
    )
    (run,) = runs(text)
    assert run.finished and run.ended.reason == "finished"


# --- oddities of pasted logs ----------------------------------------------------------------------------------


def test_ansi_without_esc_prefixes_glued_tensorflow_text():
    evs = parse_log((SYN / "pasted_keras3.txt").read_bytes())
    assert [h.epoch for h in evs if isinstance(h, EpochHeader)] == [1, 2, 3]  # not 'Epoch 1:' / 'Epoch 00002:'
    finals = [p for p in evs if isinstance(p, Progress) and p.final]
    assert [(p.elapsed_s, p.per_step_s) for p in finals] == [(14, pytest.approx(0.098)), (10, pytest.approx(0.104))]
    assert len([e for e in evs if isinstance(e, Timestamp)]) == 2  # one on its own line, one glued on


def test_caret_notation_from_cat_v():
    text = (
        "Epoch 1/2\n^M^[[1m 5/30^[[0m ^[[37mxx^[[0m ^[[1m1s^[[0m 40ms/step - loss: 3.6^H^H^H"
        "^M^[[1m 7/30^[[0m ^[[1m1s^[[0m 41ms/step\n"
    )
    steps = [p.step for p in events(text, Progress)]
    assert steps == [5, 7]


@pytest.mark.parametrize("prefix", ["", "    ", "# ", "## ", "> ", "\t"])
def test_prefixes(prefix):
    text = f"{prefix}Epoch 2/9\n{prefix}95/95 [==============================] - 10s 104ms/step - loss: 2.0\n"
    evs = events(text)
    assert isinstance(evs[0], EpochHeader) and evs[0].epoch == 2 and evs[1].final


@pytest.mark.parametrize(
    "line",
    [
        "Epoch 00012: saving model to /tmp/ckpt.h5",
        "Epoch 13: ReduceLROnPlateau reducing learning rate to 0.0001.",
        "Epoch 5: val_loss improved from 0.5 to 0.4",
        "Epoch 00012: early stopping",
    ],
)
def test_callback_lines_are_not_headers(line):
    assert not events(line, EpochHeader)


def test_early_stopping_ends_the_run():
    (run,) = runs((SYN / "early_stop.txt").read_bytes())
    assert run.finished and run.ended.reason == "early_stopping" and run.total_epochs == 10000


def test_cut_off_line_keeps_the_previous_snapshot():
    text = "Epoch 1/2\n\r 28/30 ━━━━━━━━━━━━━━━━━━━ 0s 38ms/step - loss: 3.6\r 29/30 ━━━━━━━━━━━━━━━━━━━ 0s 38ms/st"
    assert [p.step for p in events(text, Progress)] == [28]


def test_evaluate_and_predict_bars_are_not_epochs():
    (first, second) = runs((SYN / "two_runs.txt").read_bytes())
    assert first.finished and first.eval_bars == 1 and len(first.epochs) == 2  # the 313/313 evaluate() bar
    assert second.total_epochs == 5 and second.current.number == 2 and second.current.step == 120
    (run,) = runs((SYN / "midrun.txt").read_bytes())
    assert run.eval_bars >= 1 and run.epochs[1].final.step == 1000  # predict() '1/1' bars inside epoch 27


def test_log_starting_mid_run():
    (run,) = runs((SYN / "midrun.txt").read_bytes())
    assert [e.number for e in run.epochs] == [26, 27, 28] and run.total_epochs == 120
    assert run.epochs[0].complete and not run.epochs[0].snaps[0].step == 1


def test_crash_and_restart_of_the_same_epoch():
    bar = "\r{:>4}/1000 ━━━━━━━━━━━━━━━━━━━━ {} {}ms/step - loss: 1.0".format
    log = (
        "Epoch 4/10\n" + bar(1000, "50s", 50) + "\nEpoch 5/10\n" + bar(300, "35s", 50) + "\n"
        "2024-07-30 22:00:00.000: I tensorflow/core/platform/cpu_feature_guard.cc:210] starting again\n"
        "Epoch 5/10\n" + bar(1, "3:00", 180) + bar(200, "40s", 50)
    )
    (run,) = runs(log)
    assert [(e.number, e.step) for e in run.epochs] == [(4, 1000), (5, 200)] and run.epochs[1].restart
    assert run.segments == 2 and run.eval_bars == 0


def test_second_fit_with_initial_epoch_is_another_run():
    fit = "Epoch {0}/{1}\n30/30 - 1s - 40ms/step - loss: 1.0\n".format
    first, second = runs("".join(fit(e, 5) for e in range(1, 6)) + fit(6, 10) + fit(7, 10))
    assert first.finished and (second.total_epochs, [e.number for e in second.epochs]) == (10, [6, 7])
    assert second.epochs[0].restart


def test_jupyter_notebook_outputs():
    import json

    nb = {
        "nbformat": 4,
        "cells": [
            {
                "cell_type": "code",
                "outputs": [
                    {
                        "output_type": "stream",
                        "text": [
                            "Epoch 1/10\n",
                            (
                                "\x1b[1m1563/1563\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m "
                                "\x1b[1m12s\x1b[0m 7ms/step - loss: 1.5\n"
                            ),
                            "Epoch 2/10\n",
                            (
                                "\r\x1b[1m 500/1563\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m "
                                "\x1b[1m6s\x1b[0m 6ms/step"
                            ),
                        ],
                    }
                ],
            }
        ],
    }
    (run,) = runs(json.dumps(nb))
    assert [(e.number, e.step) for e in run.epochs] == [(1, 1563), (2, 500)] and run.total_epochs == 10


def test_unicode_and_binary_detection():
    utf16 = (SYN / "keras2_utf16.txt").read_bytes()
    assert "Epoch 1/3" in decode_log(utf16) and not looks_binary(utf16)
    assert looks_binary(bytes(range(256)) * 50) and looks_binary(b"\x00" * 1000)
    assert not looks_binary((LOGS / "keras_log_verbose1.txt").read_bytes())
    assert decode_log(b"\xef\xbb\xbfEpoch 1/2") == "Epoch 1/2"


def test_stamps():
    evs = [
        e
        for e in parse_log(
            b"I0000 00:00:1722376740.675123   12 cuda_dnn.cc:1] x\n"
            b"W0730 21:59:01.500000 140234 file.py:12] y\n"
            b"Epoch 1/2\n"
            b"2024-07-30 21:59:02,250 - INFO - z\n",
            year=2024,
        )
        if isinstance(e, Timestamp)
    ]
    assert [e.source for e in evs] == ["unix", "absl", "iso"]
    assert evs[0].ts == pytest.approx(1722376740.675123)
    assert evs[2].ts - evs[1].ts == pytest.approx(0.75)  # absl stamps carry no year: the log's year is assumed
    many = events("".join(f"2024-07-30 21:59:{s:02d}.000: I tensorflow/x.cc:1] m\n" for s in range(30)), Timestamp)
    assert [e.ts - many[0].ts for e in many] == [0, 29]  # a run of stamp lines keeps its first and last


def test_normalise():
    assert normalise("\x1b[1m95/95\x1b[0m [1m2s[0m\b\b") == "95/95 2s"


def test_thinning_keeps_first_last_and_a_bounded_sample():
    tl = S.timeline(epochs=2, steps=3000, step_s=0.1)
    evs = parse_log(b"".join(b for _, b in S.keras3(tl, interval=0)))
    (run,) = build_runs(evs)
    for ep in run.epochs:
        assert len(ep.snaps) <= 25 and ep.snaps[0].step == 1 and ep.final.step == 3000
        assert ep.snaps[-2].step == 2999


def test_parse_is_resumable_at_line_boundaries():
    data = (LOGS / "keras_log_verbose1.txt").read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    whole = [e for e in parse_log(data) if not isinstance(e, Progress) or e.final]
    parts = parse_log(data[:cut]) + parse_log(data[cut:], line_base=data[:cut].count(b"\n"))
    assert whole == [e for e in parts if not isinstance(e, Progress) or e.final]


# --- speed and robustness ------------------------------------------------------------------------------------


def _big(writer, size=10_000_000, **kw):
    data = b"".join(b for _, b in writer(S.timeline(**kw)))
    return (data * (size // len(data) + 1))[:size]


@pytest.mark.parametrize(
    "writer",
    [S.keras3, lambda tl: S.keras2(tl, tty=False), lambda tl: S.tqdm_bars(tl, interval=0)],
    ids=["keras3", "keras2-file", "tqdm"],
)
def test_ten_megabytes_parse(writer):
    """Speed is measured by bench/bench_estimate.py (never asserted here: timed tests flake on a busy box)."""
    data = _big(writer, epochs=40, steps=1000)
    evs = parse_log(data)
    runs = build_runs(evs)
    assert sum(len(r.epochs) for r in runs) >= 40  # every repeated 40-epoch run was read


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data):
    build_runs(parse_log(data))


_TOKENS = [
    b"\r",
    b"\n",
    b"\b",
    b"\x1b[",
    b"[1m",
    b"Epoch ",
    b"/",
    b"0",
    b"9" * 30,
    b" ETA: ",
    b"%|",
    b"it/s",
    b"s/it",
    b" - ",
    b"ms/step",
    b"Unknown",
    b"[",
    b"]",
    b":",
    b"2024-07-30 21:59:00",
    b"\x00",
    b"\xff\xfe",
    b"early stopping",
    b" start run=x epochs=0",
    b" epoch 0/0 step 0/0",
    b"finished",
    b"interrupted",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(REAL + sorted(SYN.iterdir())),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), st.integers(0, len(_TOKENS) - 1)), max_size=12),
)
def test_mutated_real_logs_never_raise(path, edits):
    data = bytearray(path.read_bytes())
    for op, pos, tok in edits:
        pos %= len(data) + 1
        if op == 0:
            data[pos:pos] = _TOKENS[tok]
        elif op == 1:
            del data[pos : pos + tok * 7 + 1]
        elif op == 2:
            data[pos:pos] = random.Random(pos).randbytes(tok + 1)
        else:
            del data[pos:]
    build_runs(parse_log(bytes(data)))
