"""Embedded Reber grammar: generated strings are valid, invalid ones rejected, the checker agrees with a regex."""

import random
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmgen.data import builtin, reber

# Independent description of the grammar, derived by hand from the automaton diagram:
# from node 1, T S* X reaches node 4, P T* V P reaches node 4 (or P T* V V exits); node 4 loops back through
# X T* V P and exits with S or X T* V V.
REBER = r"B(?:(?:TS*X|PT*VP)(?:XT*VP)*(?:S|XT*VV)|PT*VV)E"
EMBEDDED = re.compile(rf"B(?:T{REBER}T|P{REBER}P)E")
REBER_RE = re.compile(REBER)

VALID_REBER = ["BTXSE", "BPVVE", "BTSSXXTVVE", "BPVPXVPXVPXVVE", "BTSXSE", "BPTVPXVVE", "BTXXVPSE", "BPTTTVVE"]
VALID_EMBEDDED = ["BTBTXSETE", "BPBPVVEPE", "BTBPVPXVVETE", "BPBTSSXXTVVEPE", "BTBPTTVPSETE"]
INVALID_EMBEDDED = [
    "",
    "BTBTXSEPE",  # outer symbols differ
    "BPBTXSETE",  # outer symbols differ
    "BTBTSVETE",  # S then V is not a transition
    "BTBTXSET",  # truncated
    "BTBTXS",  # truncated
    "BTBTXSETEE",  # extra symbol
    "BTBTXSETEX",  # extra symbol
    "XBTBTXSETE",  # leading junk
    "BTBTXSEETE",  # inner string continues after its E
    "BTBTETE",  # empty inner path
    "BTBTXSE",  # not embedded
    "BSBTXSESE",  # outer symbol must be T or P
    "btbtxsete",  # case matters
    "BTBTXSETE\n",
    "BTBTX SETE",
]


@pytest.mark.parametrize("s", VALID_REBER)
def test_known_reber_strings(s):
    assert reber.is_valid_reber(s)
    assert REBER_RE.fullmatch(s)


@pytest.mark.parametrize("s", VALID_EMBEDDED)
def test_known_embedded_strings(s):
    assert reber.is_valid_embedded(s)
    assert not reber.is_valid_reber(s)


@pytest.mark.parametrize("s", INVALID_EMBEDDED)
def test_invalid_embedded_rejected(s):
    assert not reber.is_valid_embedded(s)
    assert not EMBEDDED.fullmatch(s)


def test_generated_strings_are_valid():
    rng = random.Random(1)
    for _ in range(2000):
        assert reber.is_valid_reber(reber.reber_string(rng))
        s = reber.embedded_reber_string(rng)
        assert reber.is_valid_embedded(s) and EMBEDDED.fullmatch(s)
    gen = np.random.default_rng(0)  # numpy generators work too
    assert all(reber.is_valid_embedded(reber.embedded_reber_string(gen)) for _ in range(200))


def test_both_outer_symbols_and_branches_occur():
    lines = reber.corpus(n=500, seed=3).splitlines()
    assert {s[1] for s in lines} == {"T", "P"}
    assert {s[3] for s in lines} == {"T", "P"}
    assert set("".join(lines)) == set(reber.ALPHABET)


def test_corpus_deterministic_and_valid():
    a = reber.corpus(n=300, seed=7)
    assert a == reber.corpus(n=300, seed=7)
    assert a != reber.corpus(n=300, seed=8)
    assert a.endswith("\n") and len(a.splitlines()) == 300
    assert reber.valid_fraction(a) == 1.0


def test_builtin_reber_size():
    text = builtin.builtin_text("reber")
    assert 200_000 <= len(text.encode()) <= 400_000
    assert reber.valid_fraction(text) == 1.0


def test_valid_fraction():
    assert reber.valid_fraction(["BTBTXSETE", "BPBPVVEPE", "BTBTXSEPE", "  BPBPVVEPE  ", ""]) == 0.75
    assert reber.valid_fraction("BTBTXSETE\nnonsense\n") == 0.5
    assert reber.valid_fraction([]) == 0.0
    assert reber.valid_fraction("\n\n") == 0.0


@st.composite
def near_valid(draw):
    """A generated embedded string, possibly mutated by one edit (most edits make it invalid)."""
    s = reber.embedded_reber_string(random.Random(draw(st.integers(0, 10_000))))
    op = draw(st.sampled_from(["keep", "replace", "delete", "insert", "swap_outer"]))
    i = draw(st.integers(0, len(s) - 1))
    c = draw(st.sampled_from(reber.ALPHABET))
    if op == "replace":
        s = s[:i] + c + s[i + 1 :]
    elif op == "delete":
        s = s[:i] + s[i + 1 :]
    elif op == "insert":
        s = s[:i] + c + s[i:]
    elif op == "swap_outer":
        s = s[0] + {"T": "P", "P": "T"}[s[1]] + s[2:]
    return s


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(alphabet=reber.ALPHABET, max_size=24), near_valid()))
def test_checker_agrees_with_regex(s):
    assert reber.is_valid_embedded(s) == bool(EMBEDDED.fullmatch(s))
    assert reber.is_valid_reber(s) == bool(REBER_RE.fullmatch(s))
