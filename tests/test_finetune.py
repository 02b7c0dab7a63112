"""Fine-tuning (`train --from`): weights carried over a vocabulary change, learning checked on the embedded Reber
grammar, exact resume, frozen layers, the union vocabulary, and every bad base refused with nothing written."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import reber_lines
from contract import fails as fails_with_strings
from lstmgen.cli.main import cli
from lstmgen.data import reber
from lstmgen.data.vocab import Vocab, run_vocab_for
from lstmgen.runs.kerasfile import Weights, read_weights
from lstmgen.runs.rundir import RunDir
from lstmgen.training.remap import remap
from test_resume import metrics, stop_at

FT = [
    "--seed",
    "5",
    "--mixed-precision",
    "off",
    "--checkpoint-minutes",
    "0",
    "--sample-every-epochs",
    "0",
    "--no-tensorboard",
    "-q",
]


def run(args, expect=0):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The smoke config trained on the embedded Reber grammar (about a minute): a base that knows the grammar."""
    d = tmp_path_factory.mktemp("ft")
    run(
        [
            "train",
            "builtin:reber",
            "--config",
            "smoke",
            "-o",
            d / "base",
            "--seed",
            "7",
            "--no-tensorboard",
            "--sample-every-epochs",
            "0",
            "-q",
        ]
    )
    renamed = reber.corpus(n=3000, seed=11).replace("X", "x")  # the same grammar, one letter in another form
    (d / "renamed.txt").write_text(renamed)
    return d


def sampled_validity(run_dir, rename=("x", "X")) -> float:
    out = run(
        [
            "generate",
            run_dir,
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
        ]
    ).output
    return reber.valid_fraction([s.replace(*rename) for s in reber_lines(out)])


def test_fine_tuned_model_knows_the_grammar_where_scratch_has_not_learned_it(base):
    args = ["--epochs", "1", "--steps-per-epoch", "30", "--batch-size", "32", "--seq-len", "64", *FT]
    run(["train", base / "renamed.txt", "--from", base / "base", "-o", base / "tuned", *args])
    run(["train", base / "renamed.txt", "--config", "smoke", "-o", base / "scratch", *args])
    info = json.loads((base / "tuned" / "run.json").read_text())["base"]
    assert info["lookalike"] == {"x": "X"} and "X" in info["dropped"]  # 'x' started as 'X'; 'X' is not in the text
    assert info["sha256"] and info["data_sha256"] == json.loads((base / "base" / "run.json").read_text())["data_sha256"]
    assert sampled_validity(base / "tuned") >= 0.9
    assert sampled_validity(base / "scratch") < 0.5
    tuned = float(metrics(base / "tuned")[0]["val_loss"])
    scratch = float(metrics(base / "scratch")[0]["val_loss"])
    assert tuned < scratch - 0.3


def test_info_shows_where_a_run_started(base):
    if not (base / "tuned").exists():
        pytest.skip("needs the fine-tuned run of the previous test")
    out = run(["info", base / "tuned"]).output
    assert "fine-tuned   from " in out and str(base / "base") in out


def test_fine_tuning_resumes_bit_identically_after_a_mid_epoch_stop(base, monkeypatch):
    args = [
        "--from",
        base / "base",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "6",
        "--dropout",
        "0.2",
        "--checkpoint-steps",
        "1",
        *FT,
    ]
    run(["train", base / "renamed.txt", "-o", base / "straight", *args])
    stop_at(monkeypatch, epoch=1, step=3)
    run(["train", base / "renamed.txt", "-o", base / "stopped", *args], expect=3)
    monkeypatch.undo()
    run(["train", base / "stopped", "-q"])
    assert metrics(base / "straight")[0]["val_loss"] == metrics(base / "stopped")[0]["val_loss"]
    a, b = read_weights(base / "straight" / "latest.keras"), read_weights(base / "stopped" / "latest.keras")
    for x, y in zip(
        [a.embedding, a.kernel, a.bias, *a.cells[0]], [b.embedding, b.kernel, b.bias, *b.cells[0]], strict=True
    ):
        np.testing.assert_array_equal(x, y)


def test_frozen_layers_keep_the_base_weights(base):
    run(
        [
            "train",
            base / "renamed.txt",
            "--from",
            base / "base",
            "--freeze-layers",
            "1",
            "-o",
            base / "frozen",
            "--epochs",
            "1",
            "--steps-per-epoch",
            "5",
            *FT,
        ]
    )
    before, after = read_weights(base / "base" / "best.keras"), read_weights(base / "frozen" / "latest.keras")
    for x, y in zip(before.cells[0], after.cells[0], strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(before.kernel[:, :3], after.kernel[:, :3])  # the logits layer did train


def test_union_vocabulary_keeps_the_base_characters_and_resumes_from_the_text(base):
    out = base / "union"
    args = ["--from", base / "base", "--init-vocab", "union", "--epochs", "1", "--steps-per-epoch", "4", *FT]
    run(["train", base / "renamed.txt", "-o", out, *args])
    chars = Vocab.load(out / "vocab.json").chars
    assert set(chars) == set("BTPSXVE\nx") and chars == sorted(chars)
    run(["train", base / "renamed.txt", "-o", out, *args[:-2], "--epochs", "2", "-q"])  # the same command again
    assert [r["epoch"] for r in metrics(out)] == ["1", "2"]
    run(["eval", out, "--json"])


def fails(args, *rest, **kw):
    return fails_with_strings([str(a) for a in args], *rest, **kw)


def _weights(vocab_size: int, rng) -> Weights:
    cell = tuple(rng.normal(size=shape).astype(np.float32) for shape in ((4, 8), (2, 8), (8,)))
    return Weights(
        rng.normal(size=(vocab_size, 4)).astype(np.float32),
        [cell],
        rng.normal(size=(2, vocab_size)).astype(np.float32),
        rng.normal(size=vocab_size).astype(np.float32),
    )


def test_remap_copies_shared_rows_and_initialises_new_characters():
    rng = np.random.default_rng(0)
    old = Vocab(list(" '.ab"))
    w = _weights(old.size, rng)
    new = Vocab(list(" .abc\u2019"))  # drops "'", adds 'c' (no look-alike) and ’ (looks like ')
    counts = np.array([50, 5, 20, 10, 4, 6])
    r = remap(w, old, new, counts)
    for ch in " .ab":
        i, j = new.index[ch], old.index[ch]
        assert np.array_equal(r.weights.embedding[i], w.embedding[j]) and r.weights.bias[i] == w.bias[j]
        assert np.array_equal(r.weights.kernel[:, i], w.kernel[:, j])
    q, apos = new.index["\u2019"], old.index["'"]
    assert r.lookalike == {"\u2019": "'"} and np.array_equal(r.weights.embedding[q], w.embedding[apos])
    assert r.weights.bias[q] == pytest.approx(w.bias[apos])  # "'" is not in the new text: no frequency shift
    c = new.index["c"]
    assert r.averaged == ["c"] and np.allclose(r.weights.embedding[c], w.embedding.mean(axis=0))
    assert not r.weights.kernel[:, c].any()
    freq = (counts + 0.5) / (counts.sum() + 0.5 * new.size)
    offsets = [w.bias[old.index[ch]] - np.log(freq[new.index[ch]]) for ch in " .ab"]
    assert r.weights.bias[c] == pytest.approx(np.median(offsets) + np.log(freq[c]), rel=1e-5)
    assert r.dropped == ["'"] and r.shared == 4
    for x, y in zip(r.weights.cells[0], w.cells[0], strict=True):
        assert np.array_equal(x, y)


def test_forms_of_a_character_stay_separate():
    """Curly and straight quotes, NFC é and NFD e + combining accent: distinct characters with distinct rows."""
    rng = np.random.default_rng(1)
    old = Vocab(list("'e\u0301"))
    new = Vocab(sorted("'\u2019e\u00e9\u0301"))
    r = remap(_weights(old.size, rng), old, new, np.ones(new.size))
    assert new.size == 5 and len({new.index[c] for c in "'\u2019"}) == 2
    assert set(r.lookalike) == {"\u2019", "\u00e9"} and r.shared == 3
    assert run_vocab_for(list("'e"), Vocab(list("\u2019")), "union").chars == ["'", "e", "\u2019"]


def test_bad_bases_are_one_line_and_write_nothing(base, tmp_path):
    text = base / "renamed.txt"
    out = tmp_path / "new"
    fails(["train", text, "--from", text, "-o", out], "not a .keras model file or a run directory", no_new=[tmp_path])
    fails(["train", text, "--from", tmp_path / "missing", "-o", out], "base model .* does not exist", no_new=[tmp_path])
    fails(
        ["train", text, "--from", "builtin:nonesuch", "-o", out],
        "unknown built-in model 'builtin:nonesuch'",
        no_new=[tmp_path],
    )
    fails(
        ["train", text, "--from", base / "base", "--units", "32", "-o", out],
        "has 1 layers × 64 units.*--units 32",
        no_new=[tmp_path],
    )
    fails(
        ["train", text, "--from", base / "base", "--freeze-layers", "2", "-o", out],
        "more than the base's 1",
        no_new=[tmp_path],
    )
    fails(["train", text, "--freeze-layers", "1", "-o", out], "only apply with --from", no_new=[tmp_path])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    fails(["train", text, "--from", broken / "model.keras", "-o", out], "not inside an lstmgen run", no_new=[tmp_path])


def test_from_on_an_existing_run_is_refused_and_changes_nothing(base):
    existing = base / "base"
    fails(
        ["train", existing, "--from", base / "base"], "is a run, and --from only starts new runs", untouched=[existing]
    )
    fails(
        ["train", base / "renamed.txt", "--from", base / "base", "-o", existing],
        "already exists and was not started from",
        untouched=[existing],
    )
    assert RunDir(existing).info().get("base") is None
