"""`lstmgen eval`: the suffix array and novelty measures against brute force, the loss (windowed and stateful) against
a direct computation, unknown characters, sample files, the Reber report, and errors."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmgen.cli.main import cli
from lstmgen.data.vocab import Vocab
from lstmgen.evaluation.novelty import CorpusIndex, novelty, suffix_array
from lstmgen.evaluation.samples import read_samples

ids_lists = st.lists(st.integers(0, 3), max_size=60)


def run(args, expect=0, input=None):
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    assert result.exit_code == expect, result.output
    return result


# --- suffix array and novelty ---------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(ids_lists)
def test_suffix_array_is_the_sorted_suffixes(ids):
    assert suffix_array(np.array(ids, dtype=np.int64)).tolist() == sorted(range(len(ids)), key=lambda i: ids[i:])


def _occurs(corpus: list, pattern: list) -> bool:
    m = len(pattern)
    return any(corpus[i : i + m] == pattern for i in range(len(corpus) - m + 1))


@settings(max_examples=200, deadline=None)
@given(ids_lists, ids_lists, st.booleans())
def test_matching_lengths_and_novelty_match_brute_force(corpus, query, wide):
    offset = 300 if wide else 0  # ids above 255 use the two-byte encoding
    index = CorpusIndex(np.array(corpus, dtype=np.int64) + offset)
    q = np.array(query, dtype=np.int64) + offset
    expected = []
    for i in range(len(query)):
        length = 0
        while i + length < len(query) and _occurs(corpus, query[i : i + length + 1]):
            length += 1
        expected.append(length)
    assert index.matching_lengths(q).tolist() == expected
    n = 3
    report = novelty(index, q, n)
    assert report["longest_copy"] == max(expected, default=0)
    grams = [query[i : i + n] for i in range(len(query) - n + 1)]
    assert report["ngrams"] == len(grams)
    assert report["ngrams_copied"] == sum(_occurs(corpus, g) for g in grams)


def test_unknown_positions_never_match():
    index = CorpusIndex(np.array([0, 1, 2, 0, 1, 2]))
    ms = index.matching_lengths(np.array([0, 1, 2, 0]), known=np.array([True, True, False, True]))
    assert ms.tolist() == [2, 1, 0, 1]


def test_suffix_array_on_megabytes_with_repeats():
    rng = np.random.default_rng(0)
    words = rng.integers(0, 60, size=(2000, 6))
    ids = words[rng.integers(0, 2000, size=300_000)].ravel()  # 1.8 M ids with many repeats
    sa = suffix_array(ids)
    text = ids.astype(np.uint8).tobytes()
    for p in rng.integers(0, ids.size - 1, 200):
        assert text[sa[p] : sa[p] + 64] <= text[sa[p + 1] : sa[p + 1] + 64]


# --- sample files -------------------------------------------------------------------------------------------------
def test_read_samples_formats(tmp_path):
    vocab = Vocab(list("ab\n"))
    (tmp_path / "g.txt").write_text("--- sample 1/2 ---\nab\nba\n--- sample 2/2 ---\nbb\n")
    assert read_samples(str(tmp_path / "g.txt"), vocab) == ["ab\nba", "bb"]
    (tmp_path / "g.json").write_text(json.dumps({"prime": "a", "samples": ["abba", "aaa"]}))
    assert read_samples(str(tmp_path / "g.json"), vocab) == ["bba", "aa"]
    (tmp_path / "p.txt").write_text("plain text\n")
    assert read_samples(str(tmp_path / "p.txt"), vocab) == ["plain text\n"]


# --- the command ----------------------------------------------------------------------------------------------
def _direct_loss(run_dir, ids: np.ndarray, seq_len: int) -> float:
    """Mean cross-entropy with the NumPy step model, window by window from a zero state."""
    from lstmgen.generation.generate import load

    step_model, _, _ = load(str(run_dir))
    total, count = 0.0, 0
    for s in range(0, ids.size - 1, seq_len):
        x = ids[s : s + seq_len + 1]
        logits = step_model.run(x[None, :-1].astype(np.int64))[0].astype(np.float64)
        z = logits - logits.max(-1, keepdims=True)
        logp = z[np.arange(len(x) - 1), x[1:]] - np.log(np.exp(z).sum(-1))
        total -= logp.sum()
        count += len(x) - 1
    return total / count


def test_loss_on_validation_split_matches_training_and_direct_computation(tiny_run):
    from lstmgen.data.prepared import load_prepared
    from lstmgen.runs.rundir import RunDir

    result = json.loads(run(["eval", tiny_run, "--json", "-q"]).stdout)
    lo = result["loss"]
    val = load_prepared(RunDir(tiny_run).info()["prepared"]).val
    assert lo["predictions"] == val.size - 1 and lo["unknown"]["count"] == 0
    assert lo["bits_per_char"] == pytest.approx(lo["nats"] / math.log(2))
    assert lo["perplexity"] == pytest.approx(math.exp(lo["nats"]))
    assert lo["nats"] == pytest.approx(_direct_loss(tiny_run, np.asarray(val, dtype=np.int64), 16), rel=1e-4)
    state_val = result["checkpoint"]["best_val_loss"]
    assert lo["nats"] == pytest.approx(state_val, abs=0.02)  # same windows, plus the last partial one


def test_loss_on_text_reports_unknown_characters(tiny_run, tmp_path):
    (tmp_path / "t.txt").write_text("The quick brown fox — jumps over the lazy dog 42 times.\n", encoding="utf-8")
    out = run(["eval", tiny_run, tmp_path / "t.txt"]).stdout
    assert "unknown" in out and "bits/char" in out and "perplexity" in out
    result = json.loads(run(["eval", tiny_run, tmp_path / "t.txt", "--json"]).stdout)
    unknown = result["loss"]["unknown"]
    assert unknown["count"] == 3 and sorted(unknown["chars"]) == sorted("—42")
    assert result["loss"]["predictions"] == len("The quick brown fox — jumps over the lazy dog 42 times.\n") - 3 - 1
    stdin = json.loads(run(["eval", tiny_run, "-", "--json"], input="the lazy dog\n").stdout)
    assert stdin["loss"]["predictions"] == len("the lazy dog\n") - 1


def test_novelty_of_a_verbatim_copy_and_of_generated_samples(tiny_run, tmp_path):
    from conftest import TINY_TEXT

    copy = TINY_TEXT[:300]
    (tmp_path / "copy.txt").write_text(copy, encoding="utf-8")
    out = run(["eval", tiny_run, "--samples", tmp_path / "copy.txt", "--no-loss", "--json"]).stdout
    nv = json.loads(out)["novelty"]
    assert "loss" not in nv and nv["longest_copy"] == 300 and nv["ngram_share"] == 1.0
    assert nv["reference_validation_text"]["ngram_share"] is not None
    result = json.loads(
        run(["eval", tiny_run, "--generate", "3", "--length", "60", "--seed", "2", "--no-loss", "--json"]).stdout
    )
    nv = result["novelty"]
    assert nv["samples"] == 3 and nv["chars"] == 180 and nv["ngrams"] == 3 * (60 - 20 + 1)
    assert 0.0 <= nv["ngram_share"] <= 1.0 and 0 <= nv["longest_copy"] <= 60
    assert "reber" not in result
    text = run(["eval", tiny_run, "--generate", "2", "--length", "40", "--seed", "2", "--no-loss"]).stdout
    assert "20-grams" in text and "longest substring" in text and "reference" in text


def test_reber_model_reports_valid_share(tmp_path):
    from conftest import TINY_TRAIN

    run(
        [
            "train",
            "builtin:reber",
            "-o",
            tmp_path / "reber",
            "--epochs",
            "1",
            "--steps-per-epoch",
            "3",
            *TINY_TRAIN,
            "--sample-every-epochs",
            "0",
            "--no-tensorboard",
            "-q",
        ]
    )
    result = json.loads(
        run(
            ["eval", tmp_path / "reber", "--generate", "4", "--length", "200", "--seed", "1", "--no-loss", "--json"]
        ).stdout
    )
    assert 0.0 <= (result["reber"]["valid_fraction"] or 0.0) <= 1.0
    (tmp_path / "valid.txt").write_text("BTBTSSXSETE\nBPBPVVEPE\nBTBXE\n")
    result = json.loads(
        run(["eval", tmp_path / "reber", "--samples", tmp_path / "valid.txt", "--no-loss", "--json"]).stdout
    )
    assert result["reber"] == {"strings": 3, "valid_fraction": pytest.approx(2 / 3)}


@pytest.mark.parametrize(
    "args, match",
    [
        (["--samples", "x.txt", "--generate", "2"], "not both"),
        (["--generate", "-1"], "--generate"),
    ],
)
def test_bad_eval_options(tiny_run, args, match):
    result = CliRunner().invoke(cli, ["eval", str(tiny_run), *args])
    assert result.exit_code == 1 and match in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_eval_of_a_directory_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(cli, ["eval", str(tmp_path)])
    assert result.exit_code == 1 and "not an lstmgen run directory" in result.stderr


# --- the stateful loss ------------------------------------------------------------------------------------------
def _whole_text_loss(step_model, ids: np.ndarray) -> float:
    """Mean cross-entropy over the whole text in one sequence, the state carried from the first character."""
    logits = step_model.run(ids[None, :-1].astype(np.int64))[0].astype(np.float64)
    z = logits - logits.max(-1, keepdims=True)
    return float(-(z[np.arange(ids.size - 1), ids[1:]] - np.log(np.exp(z).sum(-1))).mean())


def test_stateful_loss_is_the_whole_text_in_one_pass_or_the_windows_side_by_side(tiny_run):
    from lstmgen.generation.generate import load
    from lstmgen.generation.scoring import stateful_loss

    step_model, _, _ = load(str(tiny_run))
    rng = np.random.default_rng(3)
    ids = rng.integers(0, step_model.vocab_size, size=16 * 12 + 1)
    one = stateful_loss(step_model, ids, streams=1)
    assert one["streams"] == 1 and one["predictions"] == ids.size - 1
    assert one["nats"] == pytest.approx(_whole_text_loss(step_model, ids), rel=1e-5)
    assert one["bits_per_char"] == pytest.approx(one["nats"] / math.log(2))
    # 12 streams of 16 characters each start cold: exactly the windowed loss with seq_len 16
    assert stateful_loss(step_model, ids, streams=12)["nats"] == pytest.approx(
        _direct_loss(tiny_run, ids, 16), rel=1e-5
    )
    # pieces of unequal length: the padded tail of the last piece is not counted
    odd = ids[:100]
    pieces = [odd[s : s + 34] for s in range(0, 99, 33)]  # 3 pieces of 33 predictions each
    expected = sum(_whole_text_loss(step_model, p) * (p.size - 1) for p in pieces) / 99
    assert stateful_loss(step_model, odd, streams=3)["nats"] == pytest.approx(expected, rel=1e-5)
    assert stateful_loss(step_model, ids[:2], streams=16)["streams"] == 1  # never more streams than predictions


def test_stateful_loss_is_the_same_in_any_number_of_chunks(tiny_run, monkeypatch):
    from lstmgen.generation import scoring
    from lstmgen.generation.generate import load

    step_model, _, _ = load(str(tiny_run))
    ids = np.random.default_rng(4).integers(0, step_model.vocab_size, size=301)
    whole = scoring.stateful_loss(step_model, ids, streams=3)["nats"]  # 100 steps: one chunk
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 7)  # 2 steps of 3 streams per call: 50 calls, the state carried
    assert scoring.stateful_loss(step_model, ids, streams=3)["nats"] == pytest.approx(whole, rel=1e-6)
    assert whole == pytest.approx(
        sum(_whole_text_loss(step_model, ids[s : s + 101]) for s in (0, 100, 200)) / 3, rel=1e-5
    )


def test_eval_reports_the_stateful_loss_beside_the_windowed_one(tiny_run):
    result = json.loads(run(["eval", tiny_run, "--json", "-q"]).stdout)
    sf = result["loss"]["stateful"]
    assert sf["streams"] == 16 and sf["predictions"] == result["loss"]["predictions"] and sf["nats"] > 0
    one = json.loads(run(["eval", tiny_run, "--json", "-q", "--streams", "1"]).stdout)["loss"]["stateful"]
    assert one["streams"] == 1 and one["nats"] != sf["nats"]
    assert "stateful" not in json.loads(run(["eval", tiny_run, "--json", "-q", "--streams", "0"]).stdout)["loss"]
    assert "with the state carried" not in run(["eval", tiny_run, "--streams", "0"]).stdout
    assert "stateful" in run(["eval", tiny_run]).stdout
    bad = CliRunner().invoke(cli, ["eval", str(tiny_run), "--streams", "-1"])
    assert bad.exit_code == 1 and "--streams" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_training_records_the_stateful_validation_loss(tiny_run):
    import csv

    rows = list(csv.DictReader((tiny_run / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and all(float(r["val_loss_stateful"]) > 0 for r in rows)
    latest = json.loads(run(["eval", tiny_run, "--which", "latest", "--json", "-q"]).stdout)["loss"]["stateful"]
    assert float(rows[-1]["val_loss_stateful"]) == pytest.approx(latest["nats"], abs=2e-5)
    assert "val_loss_stateful" in (tiny_run / "train.log").read_text()


def test_eval_window_sets_the_length_of_the_windowed_loss(tiny_run):
    default = json.loads(run(["eval", tiny_run, "--json", "-q", "--streams", "0"]).stdout)["loss"]
    same = json.loads(run(["eval", tiny_run, "--json", "-q", "--streams", "0", "--window", "16"]).stdout)["loss"]
    assert default["seq_len"] == 16 and same["nats"] == pytest.approx(default["nats"], abs=1e-6)
    longer = json.loads(run(["eval", tiny_run, "--json", "-q", "--streams", "0", "--window", "48"]).stdout)["loss"]
    assert longer["seq_len"] == 48 and longer["windows"] == math.ceil(longer["predictions"] / 48)
    assert longer["predictions"] == default["predictions"] and longer["nats"] != default["nats"]
    whole = json.loads(run(["eval", tiny_run, "--json", "-q", "--streams", "1", "--window", "1000000"]).stdout)["loss"]
    # one window over the whole text, from a zero state, is the stateful loss of one stream
    assert whole["windows"] == 1 and whole["nats"] == pytest.approx(whole["stateful"]["nats"], abs=1e-4)
    assert "windows of 48" in run(["eval", tiny_run, "--window", "48", "--streams", "0"]).stdout
    for bad in ("0", "-3", str(10**7)):
        result = CliRunner().invoke(cli, ["eval", str(tiny_run), "--window", bad])
        assert result.exit_code == 1 and "--window" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_loss_on_bounds_the_logits_it_holds(monkeypatch):
    import lstmgen.evaluation.loss as loss

    class Model:
        output_shape = (None, None, 50)

        def __init__(self):
            self.shapes = []

        def predict_on_batch(self, x):
            self.shapes.append(x.shape)
            return np.zeros((*x.shape, 50), np.float32)

    monkeypatch.setattr(loss, "LOGITS_BUDGET", 50 * 100 * 3)
    model = Model()
    out = loss.loss_on(model, np.arange(1001) % 50, seq_len=100, batch_size=64)
    assert set(model.shapes) == {(3, 100)} and out["windows"] == 10
    assert out["nats"] == pytest.approx(math.log(50))
