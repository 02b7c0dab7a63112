"""Per-epoch reports of `lstmgen train`: loss.png redrawn, samples.txt grown, TensorBoard scalars written, every
epoch; none of them can stop training; the config keys that steer them."""

import glob
import re

import pytest
from click.testing import CliRunner

from conftest import TINY_TEXT, TINY_TRAIN
from lstmgen.cli.main import cli
from lstmgen.runs.plots import read_metrics, write_loss_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def train(*args, expect=0):
    result = CliRunner().invoke(cli, ["train", *map(str, args)])
    assert result.exit_code == expect, result.output
    return result


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


def tensorboard_scalars(log_dir) -> list[tuple[int, str, float]]:
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    out = []
    for f in sorted(glob.glob(str(log_dir / "events.out.tfevents.*"))):
        for record in tf.data.TFRecordDataset(f):
            event = event_pb2.Event.FromString(record.numpy())
            for v in event.summary.value:
                # what TensorBoard's scalar dashboard reads (written with the first value of each tag)
                assert v.metadata.plugin_data.plugin_name in ("scalars", "")
                out.append((event.step, v.tag, float(tf.make_ndarray(v.tensor))))
    return out


def test_every_epoch_redraws_the_plot_appends_samples_and_logs_scalars(corpus, tmp_path, monkeypatch):
    import lstmgen.training.epoch_report as epoch_report

    drawn = []

    def spy(history, path, title=""):
        drawn.append([row["epoch"] for row in history])
        return write_loss_png(history, path, title)

    monkeypatch.setattr(epoch_report, "write_loss_png", spy)
    run = tmp_path / "run"
    result = train(corpus, "-o", run, "--epochs", "2", "--steps-per-epoch", "4", "--log-every-steps", "2", *TINY_TRAIN)
    assert drawn == [[1], [1, 2]]
    assert (run / "loss.png").read_bytes().startswith(PNG_MAGIC)
    samples = (run / "samples.txt").read_text(encoding="utf-8")
    assert re.findall(r"^=== epoch (\d)/2 · step (\d+) ", samples, re.M) == [("1", "4"), ("2", "8")]
    assert samples.count("--- temperature 0.5 ---") == 2 and samples.count("--- temperature 1.0 ---") == 2
    assert "sample after epoch 2, temperature 1.0" in result.stderr  # shown while training (not with -q)
    scalars = tensorboard_scalars(run / "tensorboard")
    assert [(s, t) for s, t, _ in scalars if t == "epoch/val_loss"] == [(4, "epoch/val_loss"), (8, "epoch/val_loss")]
    assert [s for s, t, _ in scalars if t == "train/loss"] == [2, 4, 6, 8]
    assert {"epoch/loss", "epoch/val_bpc", "epoch/learning_rate"} <= {t for _, t, _ in scalars}
    rows = read_metrics(run / "metrics.csv")
    val = {s: v for s, t, v in scalars if t == "epoch/val_loss"}
    assert val[8] == pytest.approx(rows[1]["val_loss"], abs=1e-4)

    train(run, "--epochs", "3", "-q")  # continuing adds epoch 3 to all three
    assert drawn[-1] == [1, 2, 3]
    assert len(re.findall(r"^=== epoch ", (run / "samples.txt").read_text(encoding="utf-8"), re.M)) == 3
    assert 12 in [s for s, t, _ in tensorboard_scalars(run / "tensorboard") if t == "epoch/val_loss"]


def test_report_failures_never_stop_training(corpus, tmp_path, monkeypatch):
    import lstmgen.training.epoch_report as epoch_report

    def broken(*a, **k):
        raise RuntimeError("no fonts today")

    monkeypatch.setattr(epoch_report, "write_loss_png", broken)
    monkeypatch.setattr(epoch_report, "epoch_samples", broken)
    run = tmp_path / "run"
    result = train(corpus, "-o", run, "--epochs", "2", "--steps-per-epoch", "3", *TINY_TRAIN)
    assert result.stderr.count("the loss plot failed") == 1 and result.stderr.count("per-epoch sampling failed") == 1
    assert "finished: 2 epochs" in result.stderr
    assert "note the loss plot failed" in (run / "train.log").read_text()
    assert not (run / "loss.png").exists() and not (run / "samples.txt").exists()


def test_samples_and_tensorboard_can_be_switched_off(corpus, tmp_path):
    run = tmp_path / "run"
    train(
        corpus,
        "-o",
        run,
        "--epochs",
        "2",
        "--steps-per-epoch",
        "2",
        *TINY_TRAIN,
        "--sample-every-epochs",
        "0",
        "--no-tensorboard",
        "-q",
    )
    assert (run / "loss.png").exists() and not (run / "samples.txt").exists() and not (run / "tensorboard").exists()
    every2 = tmp_path / "every2"
    train(
        corpus,
        "-o",
        every2,
        "--epochs",
        "2",
        "--steps-per-epoch",
        "2",
        *TINY_TRAIN,
        "--sample-every-epochs",
        "2",
        "--sample-temperatures",
        "0.7",
        "--no-tensorboard",
        "-q",
    )
    samples = (every2 / "samples.txt").read_text(encoding="utf-8")
    assert samples.count("=== epoch") == 1 and "=== epoch 2/2" in samples and "--- temperature 0.7 ---" in samples


@pytest.mark.parametrize(
    "value, match", [("0.5,hot", "not a number"), ("0", "in [0.001, 1000]"), ("1,-2", "in [0.001, 1000]")]
)
def test_bad_sample_temperatures(corpus, tmp_path, value, match):
    result = train(corpus, "-o", tmp_path / "r", "--sample-temperatures", value, expect=1)
    assert match in result.stderr and not (tmp_path / "r").exists()


def test_loss_png_from_partial_history(tmp_path):
    history = [
        {"epoch": 1, "global_step": 10, "wall_seconds": 5.0, "loss": 2.5, "val_loss": None},
        {"epoch": 2, "global_step": 20, "wall_seconds": 9000.0, "loss": 2.0, "val_loss": 2.1},
    ]
    assert write_loss_png(history, tmp_path / "a.png", "t").read_bytes().startswith(PNG_MAGIC)
    assert write_loss_png([], tmp_path / "b.png").read_bytes().startswith(PNG_MAGIC)
    assert read_metrics(tmp_path / "missing.csv") == []


def test_samples_start_with_the_first_word_of_a_real_line():
    import numpy as np

    from lstmgen.data.vocab import Vocab
    from lstmgen.training.epoch_report import word_prime

    text = "    indented line\nReturn the value.\n  more\nParse it\n"
    vocab = Vocab(sorted(set(text)))
    ids = vocab.encode(text)
    words = {word_prime(vocab, ids, seed)[1] for seed in range(20)}
    assert words == {"Return", "Parse"}
    prime_ids, word = word_prime(vocab, ids, 0)
    assert vocab.decode(prime_ids) == "\n" + word
    no_lines = Vocab(sorted(set("abc def")))
    prime_ids, word = word_prime(no_lines, no_lines.encode("abc def"), 0)
    assert word == "def" and no_lines.decode(prime_ids) == " def"
    reber = Vocab(list("BTPSXVE\n"))
    assert word_prime(reber, np.zeros(0, dtype=np.uint8), 0)[1] == ""
