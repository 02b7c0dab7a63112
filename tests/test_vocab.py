"""Vocab: ids, dtype, JSON persistence and forgiving mapping of unknown characters."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmgen.data.vocab import Vocab, dtype_for_size
from lstmgen.errors import LstmgenError

ENGLISH = 'Hello, world! It\'s "fine" - really... ok?\n' + "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def vocab():
    return Vocab.from_text(ENGLISH)


def test_from_text_is_sorted_unique(vocab):
    assert vocab.chars == sorted(set(ENGLISH))
    assert vocab.size == len(vocab) == len(set(ENGLISH))
    assert all(vocab.index[c] == i for i, c in enumerate(vocab.chars))
    assert "H" in vocab and "Z" not in vocab


def test_encode_decode_round_trip(vocab):
    ids = vocab.encode(ENGLISH)
    assert ids.dtype == np.uint8 and ids.shape == (len(ENGLISH),)
    assert [vocab.chars[i] for i in ids[:5]] == list("Hello")
    assert vocab.decode(ids) == ENGLISH
    assert vocab.decode([]) == ""
    assert vocab.encode("").size == 0


def test_dtype_by_size():
    assert dtype_for_size(256) == np.uint8
    assert dtype_for_size(257) == np.uint16
    assert dtype_for_size(65536) == np.uint16
    with pytest.raises(LstmgenError, match=r"too large.*--lowercase"):
        dtype_for_size(65537)
    big = Vocab([chr(0x100 + i) for i in range(300)])
    text = "".join(big.chars[::-1])
    ids = big.encode(text)
    assert ids.dtype == np.uint16 and big.decode(ids) == text


def test_unsorted_vocab_still_encodes():
    v = Vocab(["z", "a", "m"])
    assert v.encode("amz").tolist() == [1, 2, 0]
    assert v.decode([0, 1, 2]) == "zam"


def test_decode_rejects_out_of_range(vocab):
    with pytest.raises(ValueError, match=r"ids must be in \[0, "):
        vocab.decode([vocab.size])


def test_constructor_rejects_bad_entries():
    for bad in (["ab"], ["a", "a"], [], [1], ["\ud800"]):
        with pytest.raises((ValueError, TypeError)):
            Vocab(bad)


def test_json_round_trip(vocab, tmp_path):
    obj = vocab.to_json()
    assert obj["format"] == "lstmgen-vocab" and obj["version"] == 1
    assert Vocab.from_json(json.loads(json.dumps(obj))) == vocab
    vocab.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json") == vocab
    assert not [p for p in tmp_path.iterdir() if p.name != "vocab.json"]  # no temp files left


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        {"format": "other", "version": 1, "chars": ["a"]},
        {"format": "lstmgen-vocab", "version": 2, "chars": ["a"]},
        {"format": "lstmgen-vocab", "version": 1},
        {"format": "lstmgen-vocab", "version": 1, "chars": []},
        {"format": "lstmgen-vocab", "version": 1, "chars": ["a", "a"]},
        {"format": "lstmgen-vocab", "version": 1, "chars": ["ab"]},
        {"format": "lstmgen-vocab", "version": 1, "chars": [7]},
        {"format": "lstmgen-vocab", "version": 1, "chars": ["a", "b"], "size": 3},
    ],
)
def test_from_json_rejects_invalid(obj):
    with pytest.raises(LstmgenError, match="prepare"):
        Vocab.from_json(obj)


def test_load_errors_are_user_errors(tmp_path):
    with pytest.raises(LstmgenError, match="not found"):
        Vocab.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(LstmgenError, match=r"bad\.json"):
        Vocab.load(tmp_path / "bad.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(LstmgenError):
        Vocab.load(tmp_path / "bin.json")


def test_unknown_error_and_drop(vocab):
    with pytest.raises(LstmgenError, match="'Z'"):
        vocab.encode("aZb")
    assert vocab.decode(vocab.encode("aZb\U0001f600c", unknown="drop")) == "abc"
    assert vocab.unknown_chars("aZbZ\u00e9Z") == ["Z", "\u00e9"]
    with pytest.raises(ValueError, match="unknown must be 'error', 'map' or 'drop', not 'ignore'"):
        vocab.encode("a", unknown="ignore")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\u201cHello\u201d", '"Hello"'),
        ("it\u2019s", "it's"),
        ("caf\u00e9 na\u00efve", "cafe naive"),
        ("wait\u2026", "wait..."),
        ("a\u2013b\u2014c", "a-b-c"),
        ("a\u00a0b", "a b"),
        ("\ufb01ne", "fine"),
        ("\uff48\uff49", "hi"),  # fullwidth
        ("HELLO", "Hello"),  # only 'H' exists in upper case
        ("hi \U0001f600!", "hi !"),
        ("\u4e2d\u6587", ""),
    ],
)
def test_map_examples(vocab, text, expected):
    assert vocab.decode(vocab.encode(text, unknown="map")) == expected


def test_map_prefers_case_swap_over_stripping_accents():
    v = Vocab.from_text("\u00e9t\u00e9 abc")
    assert v.map_char("\u00c9") == "\u00e9"


def test_map_straight_to_curly_when_only_curly_exists():
    v = Vocab.from_text("\u201cIt\u2019s\u201d \u2014 x")
    assert v.decode(v.encode('"It\'s" - x', unknown="map")) == "\u201cIt\u2019s\u201c \u2014 x"


def test_map_newline_to_space_when_missing():
    v = Vocab.from_text("ab c")
    assert v.decode(v.encode("a\nb\tc", unknown="map")) == "a b c"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=40))
def test_map_never_raises(text):
    v = Vocab.from_text(ENGLISH)
    for mode in ("map", "drop"):
        ids = v.encode(text, unknown=mode)
        assert ids.dtype == np.uint8
        assert set(v.decode(ids)) <= set(v.chars)
    known = "".join(c for c in text if c in v)
    assert v.decode(v.encode(text, unknown="drop")) == known
