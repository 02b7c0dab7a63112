"""Property: whatever values `train`, `generate` and `eval` are given (as options or in a config file), they answer
with exit 0, 1 or 2, no traceback, at most one error line, and change no file the user already had.

Valid values that would make a big or long run are left out (tiny sizes only); every other value, valid or not,
is thrown at the command as is."""

from __future__ import annotations

import math
import os
from dataclasses import fields

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import TINY_TEXT
from contract import tree_hashes
from lstmgen.cli.main import cli
from lstmgen.config import Config

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
TRAIN_SETTINGS = settings(SETTINGS, max_examples=15)  # a valid example trains a tiny model for one step

# Option values as a user could type them: numbers of any size and sign, nan/inf, and any text.
NUMBERS = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, 2**31, 2**32, 2**63, 10**30]))
VALUES = st.one_of(
    NUMBERS.map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12).filter(lambda s: "\x00" not in s),
)

# Keys whose larger valid values cost time or memory, with the largest value the tests let through.
TRAIN_CHEAP = {
    "units": 16,
    "layers": 2,
    "embedding_dim": 16,
    "seq_len": 32,
    "batch_size": 16,
    "val_batch_size": 64,
    "epochs": 1,
    "steps_per_epoch": 2,
    "sample_length": 40,
    "steps_per_execution": 2,
}
FIXED = [
    "--units",
    "8",
    "--layers",
    "1",
    "--embedding-dim",
    "4",
    "--seq-len",
    "8",
    "--batch-size",
    "4",
    "--val-batch-size",
    "16",
    "--epochs",
    "1",
    "--steps-per-epoch",
    "1",
    "--sample-length",
    "10",
    "--steps-per-execution",
    "1",
    "--mixed-precision",
    "off",
    "--checkpoint-minutes",
    "0",
    "--no-tensorboard",
    "--sample-every-epochs",
    "0",
    "-q",
]
GENERATE_CHEAP = {"--length": 100, "--num-samples": 4}
EVAL_CHEAP = {"--generate": 2, "--length": 60}


def too_costly(limit: int | None, raw: str, zero_costly: bool = False) -> bool:
    """A valid-looking number above `limit` (or 0 where that means a whole pass) would train or generate too long."""
    if limit is None:
        return False
    try:
        x = float(raw)
    except ValueError:
        return False
    return math.isfinite(x) and x == int(x) and (limit < x <= 10**9 or (zero_costly and x == 0))


def check_contract(result, run, before) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output[-2000:])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output[-2000:]
    assert sum(line.startswith("lstmgen: error") for line in lines) <= 1, lines
    if result.exit_code:
        assert lines and lines[-1].startswith("lstmgen: error: "), lines
    assert tree_hashes(run) == before, "a file of the finished run changed"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    f = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    f.write_text(TINY_TEXT, encoding="utf-8")
    return f


@pytest.fixture(scope="module")
def run_hash(tiny_run):
    return tree_hashes(tiny_run)


TRAIN_KEYS = [f.name for f in fields(Config)]


@TRAIN_SETTINGS
@given(key=st.sampled_from(TRAIN_KEYS), raw=VALUES)
def test_train_option_values(tmp_path_factory, tiny_run, run_hash, corpus, key, raw):
    assume(not too_costly(TRAIN_CHEAP.get(key), raw, zero_costly=key == "steps_per_epoch"))
    out = tmp_path_factory.mktemp("t")
    name = "--" + key.replace("_", "-")
    result = CliRunner().invoke(cli, ["train", str(corpus), "-o", str(out / "run"), *FIXED, name, raw])
    check_contract(result, tiny_run, run_hash)
    if result.exit_code:
        assert os.listdir(out) == [], "a failed train left a run folder behind"


SCALARS = st.one_of(
    st.none(), st.booleans(), NUMBERS, st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12)
)
YAML_VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=2)
)


@TRAIN_SETTINGS
@given(
    config=st.dictionaries(
        st.one_of(st.sampled_from(TRAIN_KEYS), st.text(min_size=1, max_size=10)), YAML_VALUES, max_size=4
    )
)
def test_train_config_files(tmp_path_factory, tiny_run, run_hash, corpus, config):
    out = tmp_path_factory.mktemp("c")
    cfg = out / "config.yaml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True))
    before = cfg.read_bytes()
    result = CliRunner().invoke(cli, ["train", str(corpus), "-o", str(out / "run"), "-c", str(cfg), *FIXED])
    check_contract(result, tiny_run, run_hash)
    assert cfg.read_bytes() == before
    if result.exit_code:
        assert sorted(os.listdir(out)) == ["config.yaml"], "a failed train left a run folder behind"


@SETTINGS
@given(
    options=st.dictionaries(
        st.sampled_from(["--length", "--num-samples", "--top-k", "--top-p", "--temperature", "--seed", "--prime"]),
        VALUES,
        min_size=1,
        max_size=3,
    )
)
def test_generate_option_values(tiny_run, run_hash, options):
    for opt, raw in options.items():
        assume(not too_costly(GENERATE_CHEAP.get(opt), raw))
    args = [x for kv in options.items() for x in kv]
    result = CliRunner().invoke(cli, ["generate", str(tiny_run), "--json", *args])
    check_contract(result, tiny_run, run_hash)


@SETTINGS
@given(
    options=st.dictionaries(
        st.sampled_from(["--generate", "--length", "--ngram", "--temperature", "--seed"]),
        VALUES,
        min_size=1,
        max_size=3,
    )
)
def test_eval_option_values(tiny_run, run_hash, options):
    for opt, raw in options.items():
        assume(not too_costly(EVAL_CHEAP.get(opt), raw))
    args = [x for kv in options.items() for x in kv]
    result = CliRunner().invoke(cli, ["eval", str(tiny_run), "--json", *args])
    check_contract(result, tiny_run, run_hash)
