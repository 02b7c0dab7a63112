"""The Python API, called directly (not through the CLI): prepare, train, Run, Generator, evaluate, estimate_log."""

import json

import keras
import pytest

import lstmgen
from conftest import TINY_OPTIONS as TINY
from conftest import TINY_TEXT

LOGS = __import__("pathlib").Path(__file__).parent / "fixtures" / "logs"


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("api")
    (base / "book.txt").write_text(TINY_TEXT, encoding="utf-8")
    corpus = lstmgen.prepare(base / "book.txt", out=base / "prepared")
    run = lstmgen.train(corpus, out=base / "run", epochs=2, progress=False, **TINY)
    return corpus, run


def test_prepare_returns_a_handle_on_the_prepared_corpus(api_run):
    corpus, _ = api_run
    assert corpus.size == len(TINY_TEXT) and corpus.train_size + corpus.val_size == corpus.size
    assert set(corpus.chars) == set(TINY_TEXT) and len(corpus.sha256) == 64
    assert corpus.text() == TINY_TEXT
    assert lstmgen.Corpus.open(corpus.path) == corpus
    assert "vocabulary 35 characters" in corpus.summary()


def test_train_returns_the_run_with_its_history(api_run):
    _, run = api_run
    assert run.result.status == "finished" and run.status == "finished"
    assert [r["epoch"] for r in run.history] == [1.0, 2.0]
    assert run.best_val_loss == min(r["val_loss"] for r in run.history)
    assert run.config["units"] == 16
    assert run.info()["model"]["units"] == 16 if "model" in run.info() else True
    fig = run.plot()
    assert fig.axes and any(ax.get_lines() for ax in fig.axes)


def test_a_run_continues_where_it_stopped_and_branches(api_run, tmp_path):
    _, run = api_run
    copy = run.train(out=tmp_path / "more", epochs=3, progress=False)
    assert copy.path == tmp_path / "more" and copy.epochs_done == 3
    assert run.epochs_done == 2  # the original stays as it was
    again = lstmgen.Run(copy.path).train(epochs=3, progress=False)
    assert again.result.status == "already finished" and again.epochs_done == 3


def test_user_callbacks_run_inside_fit(api_run, tmp_path):
    _, run = api_run
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, round(float(logs["loss"]), 5)))

    copy = run.train(out=tmp_path / "cb", epochs=4, callbacks=[Spy()], progress=False)
    assert [e for e, _ in seen] == [2, 3]  # epochs 3 and 4 (0-based, as Keras counts them)
    assert [loss for _, loss in seen] == [pytest.approx(r["loss"], abs=1e-4) for r in copy.history[2:]]


def test_early_stopping_sees_the_validation_loss_and_stops_the_run(api_run, tmp_path):
    _, run = api_run
    events = []

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append("begin")

        def on_train_batch_end(self, batch, logs=None):
            events.append(batch)

        def on_epoch_end(self, epoch, logs=None):
            events.append(("val_loss" in logs, epoch))
            if epoch == 3:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            events.append("end")

    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=100)
    copy = run.train(out=tmp_path / "es", epochs=9, callbacks=[stopper, Spy()], progress=False)
    assert events == ["begin", 0, 1, 2, 3, (True, 2), 0, 1, 2, 3, (True, 3), "end"]
    assert copy.result.status == "stopped by a callback" and copy.epochs_done == 4 and copy.status == "stopped early"
    assert stopper.best == pytest.approx(min(r["val_loss"] for r in copy.history[2:]), abs=1e-6)
    again = copy.train(epochs=5, progress=False)  # the run is not finished: it continues where it stopped
    assert again.result.status == "finished" and again.epochs_done == 5


def test_the_generator_holds_the_model_and_streams_what_it_generates(api_run):
    _, run = api_run
    gen = run.generator()
    assert gen.which == "best" and gen.path.name == "best.keras"
    text = gen.generate("The ", length=50, temperature=0.7, seed=3)
    assert text.startswith("The ") and len(text) == 54 and set(text) <= set(gen.chars)
    streamed = "".join(gen.stream("The ", length=50, temperature=0.7, seed=3))
    assert "The " + streamed == text
    batch = gen.samples(3, "a", length=20, seed=1)
    assert len(batch) == 3 and all(len(s) == 21 for s in batch)
    assert gen.generate("x", length=10, greedy=True) == gen.generate("x", length=10, greedy=True)


def test_evaluate_gives_the_loss_as_attributes(api_run, tmp_path):
    _, run = api_run
    ev = lstmgen.evaluate(run)
    assert ev.nats == pytest.approx(run.best_val_loss, abs=1e-3)
    assert ev.bits_per_char == pytest.approx(ev.nats / 0.6931471805599453)
    other = tmp_path / "other.txt"
    other.write_text("The lazy dog jumps over the quick brown fox. Ω\n" * 20, encoding="utf-8")
    ev2 = run.evaluate(other)
    assert ev2.unknown_chars == 20 and ev2.predictions > 0 and ev2.to_json()["loss"]["nats"] == ev2.nats
    assert ev.stateful_nats is not None and ev.stateful_nats > 0  # the state carried: stateful_val_streams pieces
    assert lstmgen.evaluate(run, streams=0).stateful_nats is None


def test_fine_tuning_from_a_run_is_a_training_key(api_run, tmp_path):
    _, run = api_run
    letter = tmp_path / "letter.txt"
    letter.write_text("Dear lazy fox, the quick dog writes: jump over me. Ω\n" * 30, encoding="utf-8")
    tuned = lstmgen.train(letter, out=tmp_path / "tuned", init_from=run, epochs=1, progress=False, **TINY)
    assert tuned.status == "finished" and tuned.config["init_from"] == str(run.path)
    base = json.loads((tuned.path / "run.json").read_text())["base"]
    new = set(letter.read_text(encoding="utf-8")) - set(TINY_TEXT)
    assert "Ω" in new and set(base["averaged"]) | set(base["lookalike"]) == new  # what the base lacks
    with pytest.raises(lstmgen.RunError, match="already exists"):  # another base for a run that exists
        lstmgen.train(letter, out=tmp_path / "tuned", init_from="builtin:english", epochs=2, progress=False, **TINY)
    assert lstmgen.Run(tuned.path).epochs_done == 1  # untouched


def test_estimate_log_answers_like_the_command():
    est = lstmgen.estimate_log(LOGS / "keras_log_verbose1.txt")
    assert isinstance(est, lstmgen.Estimate) and est.epochs and est.seconds_per_epoch > 0
    assert lstmgen.estimate_log(LOGS / "keras_log_verbose1.txt", epochs=50).epochs == 50


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: lstmgen.prepare("no-such-file.txt"), lstmgen.DataError, "no such file"),
        (lambda: lstmgen.train("no-such-file.txt", epoch=3), lstmgen.ConfigError, "did you mean 'epochs'"),
        (lambda: lstmgen.train("no-such-file.txt", units="many"), lstmgen.ConfigError, "units"),
        (lambda: lstmgen.Run("."), lstmgen.RunError, "not a run directory"),
        (lambda: lstmgen.estimate_log("no-such.log"), lstmgen.LogError, "no-such.log"),
        (lambda: lstmgen.estimate_log(LOGS / "keras_log_verbose1.txt", epochs=0), lstmgen.ConfigError, "epochs"),
    ],
)
def test_errors_are_lstmgen_errors_of_one_line(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert isinstance(e.value, lstmgen.LstmgenError) and words in str(e.value) and "\n" not in str(e.value)


def test_generator_options_are_checked(api_run):
    gen = api_run[1].generator()
    for kwargs in ({"temperature": -1}, {"top_p": 1.5}, {"length": -1}, {"seed": -5}):
        with pytest.raises(lstmgen.LstmgenError):
            gen.generate("a", **kwargs)


def test_the_library_prints_nothing_unless_asked(api_run, tmp_path, capfd):
    corpus, run = api_run
    capfd.readouterr()
    lstmgen.prepare(corpus.path.parent / "book.txt", out=tmp_path / "p", progress=False)
    run.generator().generate("a", length=20)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    lstmgen.prepare(corpus.path.parent / "book.txt", out=tmp_path / "p", progress=False, verbose=1)


def test_import_is_light_and_names_are_documented():
    import subprocess
    import sys

    code = (
        "import sys, lstmgen; print(sorted(m for m in ('tensorflow', 'keras', 'numpy', 'click') if m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"
    for name in lstmgen.__all__:
        obj = getattr(lstmgen, name)
        assert obj.__doc__ and ">>>" in obj.__doc__, f"{name} has no docstring with an example"


def test_reading_and_sampling_a_run_never_imports_tensorflow(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    run = Path(__file__).parent / "fixtures" / "run_v1" / "run"
    code = (
        "import sys, lstmgen\n"
        f"run = lstmgen.Run({str(run)!r})\n"
        "run.history, run.config, run.info(), run.status\n"
        "text = run.generator(engine='numpy').generate('The ', length=20, seed=1)\n"
        "assert text.startswith('The ') and len(text) == 24, text\n"
        f"lstmgen.estimate_log({str(LOGS / 'keras_log_verbose1.txt')!r})\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
