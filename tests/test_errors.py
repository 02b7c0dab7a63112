"""Every bad input gets one clear line on stderr, a non-zero exit, no traceback, and leaves the user's files alone."""

import json
import shutil
import zipfile

import pytest
from click.testing import CliRunner

from contract import fails
from lstmgen.cli.main import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained run shared by the generate/train cases (a few seconds)."""
    base = tmp_path_factory.mktemp("trained")
    (base / "c.txt").write_text("the quick brown fox jumps over the lazy dog. " * 400)
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(base / "c.txt"),
            "-o",
            str(base / "run"),
            "--epochs",
            "1",
            "--steps-per-epoch",
            "3",
            "--units",
            "16",
            "--layers",
            "1",
            "--seq-len",
            "16",
            "--batch-size",
            "8",
            "--seed",
            "1",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    return base


# --- prepare / corpus --------------------------------------------------------------------------------------
def test_missing_corpus(tmp_path):
    fails(["prepare", str(tmp_path / "nope.txt")], "does not exist|not found|no such")


def test_empty_corpus(tmp_path):
    (tmp_path / "e.txt").write_bytes(b"")
    fails(["prepare", str(tmp_path / "e.txt"), "-o", str(tmp_path / "p")], "empty")


def test_directory_without_text(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "img.bin").write_bytes(bytes(range(256)) * 10)
    fails(["prepare", str(tmp_path / "d"), "-o", str(tmp_path / "p")], "no text|binary")


def test_binary_corpus(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    fails(["prepare", str(tmp_path / "x.png"), "-o", str(tmp_path / "p")], "binary")


def test_undecodable_under_forced_encoding(tmp_path):
    (tmp_path / "t.txt").write_bytes("café au lait".encode())
    fails(["prepare", str(tmp_path / "t.txt"), "--encoding", "ascii", "-o", str(tmp_path / "p")], "decode|ascii")


def test_unknown_encoding_name(tmp_path):
    (tmp_path / "t.txt").write_text("hello")
    fails(["prepare", str(tmp_path / "t.txt"), "--encoding", "klingon-8", "-o", str(tmp_path / "p")], "encoding")


def test_vocabulary_too_large(tmp_path):
    (tmp_path / "big.txt").write_text(
        "".join(chr(c) for c in range(0x4E00, 0x4E00 + 21000))
        + "".join(chr(c) for c in range(0x20000, 0x20000 + 46000)),
        encoding="utf-8",
    )
    fails(["prepare", str(tmp_path / "big.txt"), "-o", str(tmp_path / "p")], "too large")


def test_unreachable_url(tmp_path):
    fails(["prepare", "http://127.0.0.1:9/corpus.txt", "-o", str(tmp_path / "p")], "127.0.0.1|download|url")


def test_unknown_builtin(tmp_path):
    fails(["prepare", "builtin:nope", "-o", str(tmp_path / "p")], "reber")


def test_bad_val_fraction(tmp_path):
    (tmp_path / "t.txt").write_text("hello world " * 50)
    fails(["prepare", str(tmp_path / "t.txt"), "--val-fraction", "1.5", "-o", str(tmp_path / "p")], "fraction")


def test_output_not_writable(tmp_path):
    (tmp_path / "t.txt").write_text("hello world " * 50)
    (tmp_path / "afile").write_text("mine")
    fails(["prepare", str(tmp_path / "t.txt"), "-o", str(tmp_path / "afile" / "p")], "afile|directory|write")
    assert (tmp_path / "afile").read_text() == "mine"


def test_prepare_refuses_to_clobber_user_directory(tmp_path):
    (tmp_path / "t.txt").write_text("hello world " * 50)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    fails(["prepare", str(tmp_path / "t.txt"), "-o", str(tmp_path / "mine")], "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


# --- train -------------------------------------------------------------------------------------------------
def test_corpus_shorter_than_one_sequence(tmp_path):
    (tmp_path / "t.txt").write_text("too short")
    fails(["train", str(tmp_path / "t.txt"), "-o", str(tmp_path / "r")], "lower --batch-size|shorter|fewer")


def test_config_unknown_key_suggests(tmp_path):
    (tmp_path / "c.yaml").write_text("layerz: 2\n")
    fails(
        ["train", "builtin:reber", "-c", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "r")], "did you mean 'layers'"
    )


def test_config_wrong_type(tmp_path):
    (tmp_path / "c.yaml").write_text("units: lots\n")
    fails(["train", "builtin:reber", "-c", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "r")], "integer")


def test_config_invalid_yaml(tmp_path):
    (tmp_path / "c.yaml").write_text("units: [32\n")
    fails(["train", "builtin:reber", "-c", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "r")], "YAML")


def test_config_missing(tmp_path):
    fails(["train", "builtin:reber", "-c", str(tmp_path / "none.yaml")], "not found")


@pytest.mark.parametrize(
    "opt, value, match",
    [
        ("--epochs", "0", "epochs.* from 1 to"),
        ("--learning-rate", "-1", r"learning-rate.* in \(0, 100\]"),
        ("--dropout", "1.5", "dropout"),
        ("--seq-len", "-5", "seq-len.* from 1"),
    ],
)
def test_out_of_range_options(tmp_path, opt, value, match):
    fails(["train", "builtin:reber", opt, value, "-o", str(tmp_path / "r")], match)


def test_option_of_wrong_type(tmp_path):
    fails(["train", "builtin:reber", "--epochs", "many"], "epochs", code=2)


def test_memory_hungry_settings_refused_up_front(tmp_path):
    fails(["train", "builtin:reber", "--batch-size", "200000", "--seq-len", "5000", "-o", str(tmp_path / "r")], "GiB")
    assert not (tmp_path / "r").exists()


def test_train_refuses_to_clobber_user_directory(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    fails(["train", "builtin:reber", "-o", str(tmp_path / "mine")], "not an lstmgen run")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_shape_change_on_resume_refused(trained):
    fails(["train", str(trained / "run"), "--units", "64", "-q"], "cannot change units")


def test_incompatible_run_version(trained, tmp_path):
    run = tmp_path / "old"
    shutil.copytree(trained / "run", run)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "version": 999}))
    fails(["train", str(run), "-q"], "incompatible")
    fails(["generate", str(run)], "incompatible")


def test_all_checkpoints_corrupt(trained, tmp_path):
    run = tmp_path / "bad"
    shutil.copytree(trained / "run", run)
    for p in (run / "checkpoints").glob("*.keras"):
        p.write_bytes(b"garbage")
    err = fails(["train", str(run), "--epochs", "2", "-q"], "no checkpoint", one_line=False)
    assert "start a new run" in err


# --- generate ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_bad_temperature(trained, value):
    fails(["generate", str(trained / "run"), "--temperature", value], "temperature")


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2"])
def test_bad_top_p(trained, value):
    fails(["generate", str(trained / "run"), "--top-p", value], "top-p")


def test_negative_length(trained):
    fails(["generate", str(trained / "run"), "--length", "-3"], "length")


def test_zero_samples(trained):
    fails(["generate", str(trained / "run"), "--num-samples", "0"], "num-samples")


def test_conflicting_sampling_options(trained):
    fails(["generate", str(trained / "run"), "--greedy", "--top-k", "5"], "greedy", code=2)


def test_missing_run(tmp_path):
    fails(["generate", str(tmp_path / "nothing")], "does not exist")


def test_no_runs_yet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fails(["generate"], "no trained run")


def test_truncated_model(trained, tmp_path):
    run = tmp_path / "trunc"
    shutil.copytree(trained / "run", run)
    data = (run / "best.keras").read_bytes()
    (run / "best.keras").unlink()
    (run / "best.keras").write_bytes(data[: len(data) // 2])
    fails(["generate", str(run)], "truncated|corrupt|damaged")


def test_not_an_lstmgen_model(trained, tmp_path):
    run = tmp_path / "foreign"
    shutil.copytree(trained / "run", run)
    (run / "best.keras").unlink()
    with zipfile.ZipFile(run / "best.keras", "w") as z:
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))
    fails(["generate", str(run)], "cannot load|not an lstmgen")
    (run / "text.keras").write_text("just text")
    fails(["generate", str(run / "text.keras")], "not a Keras model")


def test_not_a_model_file(trained):
    fails(["generate", str(trained / "run" / "config.yaml")], "not a .keras")


def test_corrupt_vocabulary(trained, tmp_path):
    run = tmp_path / "vocab"
    shutil.copytree(trained / "run", run)
    (run / "vocab.json").write_text("{not json")
    info = json.loads((run / "run.json").read_text())  # and the run's prepared data (its other copy) is gone
    (run / "run.json").write_text(json.dumps({**info, "prepared": str(tmp_path / "gone")}))
    fails(["generate", str(run)], "vocab")


def test_prime_outside_vocabulary_still_generates(trained):
    result = CliRunner().invoke(
        cli, ["generate", str(trained / "run"), "--prime", "Zürich → 東京 🚀 the", "--length", "20", "--seed", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "mapped or dropped" in result.stderr
    assert len(result.stdout) > 20


# --- estimate ----------------------------------------------------------------------------------------------
def test_estimate_empty_log(tmp_path):
    (tmp_path / "e.log").write_bytes(b"")
    fails(["estimate", "--log", str(tmp_path / "e.log")], "empty")


def test_estimate_binary_log(tmp_path):
    (tmp_path / "b.log").write_bytes(bytes(range(256)) * 100)
    fails(["estimate", "--log", str(tmp_path / "b.log")], "binary")


def test_estimate_log_without_progress(tmp_path):
    (tmp_path / "n.log").write_text("hello\nthis is not a training log\n")
    fails(["estimate", "--log", str(tmp_path / "n.log")], "no (training )?progress")


def test_estimate_missing_log(tmp_path):
    fails(["estimate", "--log", str(tmp_path / "missing.log")], "does not exist|not found|no such")


def test_estimate_bad_time(tmp_path):
    (tmp_path / "v2.log").write_text("Epoch 1/3\n30/30 - 3s - 117ms/step - loss: 3.6894\nEpoch 2/3\n")
    fails(["estimate", "--log", str(tmp_path / "v2.log"), "--started", "half past never"], "time")


def test_estimate_source_and_log(tmp_path):
    fails(["estimate", "corpus.txt", "--log", "x.log"], "either", code=2)
