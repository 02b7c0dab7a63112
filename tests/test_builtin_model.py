"""The shipped base model builtin:english: it is a trained English model, it samples and describes itself without
TensorFlow, a fine-tuning run starts from it and records it, and the server lists it."""

import json

import pytest
from click.testing import CliRunner

from lstmgen.cli.main import cli
from lstmgen.data.download import file_sha256
from lstmgen.runs.basemodel import MODELS_DIR, builtin_model_names, resolve_base
from test_numpy_engine import run_cli

ENGLISH = MODELS_DIR / "english"
# Public-domain English neither of the base's texts contains (Lewis Carroll, Alice's Adventures in Wonderland, 1865).
ALICE = (
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do: "
    "once or twice she had peeped into the book her sister was reading, but it had no pictures or "
    "conversations in it, and what is the use of a book, thought Alice, without pictures or conversations? "
    "So she was considering in her own mind (as well as she could, for the hot day made her feel very sleepy "
    "and stupid), whether the pleasure of making a daisy-chain would be worth the trouble of getting up and "
    "picking the daisies, when suddenly a White Rabbit with pink eyes ran close by her.\n"
)


def test_english_is_shipped_with_its_card():
    assert "english" in builtin_model_names()
    card = json.loads((ENGLISH / "card.json").read_text())
    sources = [t.get("file") or t.get("source") for t in card["trained_on"]]
    assert sources == ["builtin:pydocs", "tinyshakespeare.txt", "warandpeace.txt"]
    assert card["storage"] in card["precisions"] and card["best_val_loss"] < 1.5
    assert (ENGLISH / "best.keras").stat().st_size < 8_000_000


def test_it_models_english_it_has_not_seen(tmp_path):
    text = tmp_path / "alice.txt"
    text.write_text(ALICE * 3)
    result = CliRunner().invoke(cli, ["eval", "builtin:english", str(text), "--json", "-q"])
    assert result.exit_code == 0, result.output
    loss = json.loads(result.stdout)["loss"]
    assert loss["nats"] < 1.9  # a uniform guess over its 126 characters is 4.84; letter statistics alone about 3.3
    # with the state carried through the text, no window starts cold: a model of English does better
    assert loss["stateful"]["nats"] < loss["nats"] - 0.02


@pytest.mark.parametrize(
    "args",
    [["generate", "builtin:english", "--length", "80", "--seed", "1", "-p", "The "], ["info", "builtin:english"]],
    ids=["generate", "info"],
)
def test_generate_and_info_need_no_tensorflow(args):
    proc, heavy = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert heavy == ""
    if args[0] == "generate":
        assert proc.stdout.startswith("The ") and len(proc.stdout.split("\nHEAVY=")[0].strip()) >= 80
    else:
        assert (
            "builtin:pydocs + tinyshakespeare.txt + warandpeace.txt" in proc.stdout
            and "best         val 1." in proc.stdout
        )


def test_fine_tuning_from_it_records_the_shipped_file(tmp_path):
    text = tmp_path / "letter.txt"
    text.write_text("Dear Sir,\nI write to you about the matter we discussed.\n" * 60)
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(text),
            "--from",
            "builtin:english",
            "-o",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
            "--batch-size",
            "4",
            "--sample-every-epochs",
            "0",
            "--no-tensorboard",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    base = json.loads((tmp_path / "run" / "run.json").read_text())["base"]
    assert base["spec"] == "builtin:english" and base["sha256"] == file_sha256(ENGLISH / "best.keras")
    assert base["shared"] == len(set(text.read_text()))  # every character of the letter is in the base
    assert resolve_base("builtin:english").config_shape() == {"embedding_dim": 64, "layers": 2, "units": 256}


def test_the_server_lists_it():
    from lstmgen.generation.engine import Engine

    (model,) = Engine.load(["builtin:english"]).models.values()
    assert model.name == "english" and model.info["vocab_size"] == 126 and model.info["best_val_loss"] < 1.5
