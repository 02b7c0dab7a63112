"""Weight averaging (ema): the saved model is the moving average of the weights, validation scores it, training
goes on from the weights themselves, a resumed run continues exactly, and on or off is fixed for a run."""

import keras
import numpy as np
import pytest

import lstmgen
from conftest import TINY_OPTIONS, TINY_TEXT, reber_lines
from lstmgen.data.prepared import load_prepared
from lstmgen.errors import LstmgenError
from lstmgen.runs.kerasfile import read_weights
from lstmgen.runs.rundir import RunDir
from lstmgen.training.batches import ValBatches
from test_resume import stop_at

TINY = TINY_OPTIONS | dict(sample_every_epochs=0, tensorboard=False, stateful_val_streams=0, dropout=0.0)
CONSTANT = dict(lr_schedule="constant", learning_rate=0.01)


class Recorder(keras.callbacks.Callback):
    """The weights after every training step."""

    def __init__(self):
        super().__init__()
        self.steps: list[list[np.ndarray]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([np.array(w) for w in self.model.get_weights()])


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


def test_the_saved_model_is_the_moving_average_and_training_goes_on_from_the_weights(corpus, tmp_path):
    seen = Recorder()
    run = lstmgen.train(
        corpus, out=tmp_path / "r", epochs=2, ema=0.8, callbacks=[seen], progress=False, **TINY, **CONSTANT
    )
    assert len(seen.steps) == 8
    average = seen.steps[0]  # the first step's weights, then about the last tenth of the steps, up to 0.8
    for t, weights in enumerate(seen.steps[1:], start=1):
        decay = min(0.8, (t / (t + 1)) ** 10)
        average = [decay * a + (1 - decay) * w for a, w in zip(average, weights, strict=True)]
    saved = keras.saving.load_model(run.path / "latest.keras", compile=False).get_weights()
    for s, a, w in zip(saved, average, seen.steps[-1], strict=True):
        np.testing.assert_allclose(s, a, rtol=1e-5, atol=1e-6)
        assert not np.allclose(s, w, atol=1e-4)  # not the last step's weights
    # training went on from the weights, not the average: step 5 starts from step 4's weights
    step4 = [np.array(w) for w in seen.steps[3]]
    assert any(not np.allclose(a, w, atol=1e-4) for a, w in zip(step4, saved, strict=True))
    # the logged validation loss is the average's
    assert validation_loss(run, saved) == pytest.approx(run.history[-1]["val_loss"], abs=1e-5)
    assert validation_loss(run, seen.steps[-1]) != pytest.approx(run.history[-1]["val_loss"], abs=1e-5)


def validation_loss(run, weights) -> float:
    """The loss training validation computes (the same windows), for these weights."""
    model = keras.saving.load_model(run.path / "latest.keras", compile=False)
    model.set_weights(weights)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = load_prepared(RunDir(run.path).info()["prepared"])
    return float(model.evaluate(ValBatches(data.val, TINY["seq_len"], 256), verbose=0))


def test_with_ema_off_the_saved_model_is_the_last_weights(corpus, tmp_path):
    seen = Recorder()
    run = lstmgen.train(
        corpus, out=tmp_path / "r", epochs=1, ema=0, callbacks=[seen], progress=False, **TINY, **CONSTANT
    )
    saved = keras.saving.load_model(run.path / "latest.keras", compile=False).get_weights()
    for s, w in zip(saved, seen.steps[-1], strict=True):
        np.testing.assert_array_equal(s, w)


def test_a_resumed_run_with_ema_continues_exactly(corpus, tmp_path, monkeypatch):
    """Stopped mid-epoch (the checkpoint holds the average as its model, the weights in the optimizer) and at an
    epoch's end, then resumed: the same validation losses and final weights as a run that never stopped."""
    options = dict(epochs=3, ema=0.9, checkpoint_steps=1, progress=False, **(TINY | {"dropout": 0.1}))
    straight = lstmgen.train(corpus, out=tmp_path / "straight", **options)
    stop_at(monkeypatch, epoch=2, step=3)
    first = lstmgen.train(corpus, out=tmp_path / "resumed", **options)
    monkeypatch.undo()
    assert first.result.status == "interrupted" and len(first.history) == 1
    resumed = lstmgen.train(first, progress=False)
    assert [r["val_loss"] for r in straight.history] == [r["val_loss"] for r in resumed.history]
    a, b = read_weights(straight.path / "latest.keras"), read_weights(resumed.path / "latest.keras")
    for x, y in zip([a.embedding, a.kernel, *a.cells[0]], [b.embedding, b.kernel, *b.cells[0]], strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(("first", "then", "said"), [(0.0, 0.9, "turn ema on"), (0.9, 0.0, "turn ema off")])
def test_turning_ema_on_or_off_for_an_existing_run_is_refused(corpus, tmp_path, first, then, said):
    run = lstmgen.train(corpus, out=tmp_path / "r", epochs=1, ema=first, progress=False, **TINY)
    before = sorted(p.name for p in (run.path / "checkpoints").iterdir())
    with pytest.raises(LstmgenError, match=said):
        lstmgen.train(run, epochs=2, ema=then, progress=False)
    assert sorted(p.name for p in (run.path / "checkpoints").iterdir()) == before
    lstmgen.train(run, epochs=2, ema=first and 0.5, progress=False)  # another decay is fine
    assert len(lstmgen.Run(run.path).history) == 2


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2])
def test_ema_out_of_range_is_refused(bad):
    from lstmgen.config import make_config

    with pytest.raises(LstmgenError, match="ema"):
        make_config(None, {"ema": bad})


def test_the_averaged_model_learns_the_embedded_reber_grammar(tmp_path):
    """The smoke recipe with ema on: the saved (averaged) model writes valid embedded Reber strings."""
    from click.testing import CliRunner

    from lstmgen.cli.main import cli
    from lstmgen.data import reber

    def run(*args):
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("prepare", "builtin:reber", "-o", tmp_path / "prep", "-q")
    run("train", tmp_path / "prep", "--config", "smoke", "--ema", "0.99", "-o", tmp_path / "run", "--seed", "7", "-q")
    out = run(
        "generate",
        tmp_path / "run",
        "--num-samples",
        "16",
        "--length",
        "400",
        "--temperature",
        "1.0",
        "--prime",
        "\n",
        "--seed",
        "1",
    )
    lines = reber_lines(out)
    assert len(lines) > 100
    assert reber.valid_fraction(lines) >= 0.95
