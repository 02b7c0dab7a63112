"""`lstmgen prepare`: sources, encodings, the prepared-directory contract, caching and error handling."""

import http.server
import io
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from lstmgen.data import builtin
from lstmgen.data.prepare import encode_corpus, prepare, prepared_for_training
from lstmgen.data.prepared import Prepared, load_prepared
from lstmgen.data.sources import is_prepared_dir, read_sources
from lstmgen.errors import LstmgenError

GUTENBERG = (
    "The Project Gutenberg EBook of Pride and Prejudice, by Jane Austen\r\n\r\n"
    "\u201cIt is a truth universally acknowledged, that a single man in possession of a good fortune, must be in "
    "want of a wife.\u201d\r\n\r\n"
    "\u201cMy dear Mr. Bennet,\u201d said his lady to him one day, \u201chave you heard that Netherfield Park is "
    "let at last?\u201d\r\n\r\n"
    "\u201cBut it is,\u201d returned she; \u201cfor Mrs. Long has just been here\u2014and she told me all about "
    "it\u2026 It\u2019s the na\u00efve caf\u00e9 crowd.\u201d\r\n"
)
GERMAN = "Die Größe der Straße überrascht uns. Müller fährt über die Brücke nach München.\n"
RUSSIAN = (
    "\u041d\u0443, \u043a\u043d\u044f\u0437\u044c, \u0413\u0435\u043d\u0443\u044f \u0438 \u041b\u0443\u043a"
    "\u043a\u0430 \u0441\u0442\u0430\u043b\u0438 \u043d\u0435 \u0431\u043e\u043b\u044c\u0448\u0435, "
    "\u043a\u0430\u043a \u043f\u043e\u043c\u0435\u0441\u0442\u044c\u044f\u043c\u0438 \u0444\u0430\u043c"
    "\u0438\u043b\u0438\u0438 \u0411\u043e\u043d\u0430\u043f\u0430\u0440\u0442\u0435.\n"
) * 3


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


def read(tmp_path, data, **kw):
    return read_sources([write(tmp_path / "in.txt", data)], **kw)


# -- encodings ----------------------------------------------------------------------------------------------------


def test_utf8(tmp_path):
    text, info = read(tmp_path, "caf\u00e9 \u2014 \u4e2d\u6587\r\nline2\rline3\n")
    assert text == "caf\u00e9 \u2014 \u4e2d\u6587\nline2\nline3\n"
    assert info["encoding"] == "utf-8"


def test_utf8_bom(tmp_path):
    text, info = read(tmp_path, b"\xef\xbb\xbfhello \xc3\xa9\n")
    assert text == "hello \u00e9\n" and info["encoding"] == "utf-8-sig"


def test_cp1252_gutenberg(tmp_path):
    text, info = read(tmp_path, GUTENBERG.encode("cp1252"))
    assert info["encoding"] == "cp1252"
    assert text == GUTENBERG.replace("\r\n", "\n")


def test_cp1252_short_snippet(tmp_path):
    # charset-normalizer alone calls this cp932 (Japanese)
    text, info = read(tmp_path, "He said \u201chi\u201d\u2014ok.\n".encode("cp1252"))
    assert info["encoding"] == "cp1252" and text == "He said \u201chi\u201d\u2014ok.\n"


def test_latin1(tmp_path):
    text, info = read(tmp_path, (GERMAN * 3).encode("latin-1"))
    assert text == GERMAN * 3
    assert info["encoding"] in ("cp1252", "iso8859-1")


def test_cyrillic_codepage_not_forced_to_cp1252(tmp_path):
    text, info = read(tmp_path, RUSSIAN.encode("cp1251"))
    assert text == RUSSIAN and info["encoding"] == "cp1251"


def test_utf16_bom(tmp_path):
    text, info = read(tmp_path, GUTENBERG.encode("utf-16"))
    assert text == GUTENBERG.replace("\r\n", "\n") and info["encoding"] == "utf-16"


def test_forced_encoding(tmp_path):
    text, info = read(tmp_path, RUSSIAN.encode("koi8-r"), encoding="koi8-r")
    assert text == RUSSIAN and info["encoding"] == "koi8-r"


def test_forced_wrong_encoding_names_offset(tmp_path):
    data = GUTENBERG.encode("cp1252")
    offset = data.index(b"\x93")
    with pytest.raises(LstmgenError, match=f"byte offset {offset}.*--encoding"):
        read(tmp_path, data, encoding="utf-8")
    with pytest.raises(LstmgenError, match="unknown encoding"):
        read(tmp_path, b"abc", encoding="no-such-codec")


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        b"text with a NUL\x00 byte\n",
        bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16]) * 20,
    ],
)
def test_binary_rejected(tmp_path, data):
    with pytest.raises(LstmgenError, match="looks binary"):
        read(tmp_path, data)


@pytest.mark.parametrize("data", [b"", b"  \n\r\n\t"])
def test_empty_rejected(tmp_path, data):
    with pytest.raises(LstmgenError, match="empty"):
        read(tmp_path, data)
    with pytest.raises(LstmgenError, match="empty"):
        prepare([str(tmp_path / "in.txt")])


def test_missing_file(tmp_path):
    with pytest.raises(LstmgenError, match="no such file"):
        read_sources([str(tmp_path / "nope.txt")])
    with pytest.raises(LstmgenError, match="no SOURCE"):
        read_sources([])


# -- sources ------------------------------------------------------------------------------------------------------


def test_several_files_joined_with_newline(tmp_path):
    a = write(tmp_path / "a.txt", "abc")
    b = write(tmp_path / "b.txt", "def\n")
    c = write(tmp_path / "c.txt", "ghi".encode("utf-16"))
    text, info = read_sources([a, b, c])
    assert text == "abc\ndef\nghi"
    assert info["encodings"] == ["utf-8", "utf-8", "utf-16"] and info["encoding"] == "utf-8,utf-16"
    assert prepare([a, b]).meta["sources"] == [os.path.abspath(a), os.path.abspath(b)]


def test_directory_source(tmp_path):
    d = tmp_path / "books"
    write(d / "b.txt", "second\n")
    write(d / "a" / "z.txt", "first")
    write(d / "c.md", "third\n")
    write(d / "image.png", b"\x89PNG\x00\x01\x02")
    write(d / ".hidden.txt", "hidden\n")
    write(d / ".git" / "config", "hidden\n")
    write(d / "empty.txt", "")
    text, info = read_sources([str(d)])
    assert text == "first\nsecond\nthird\n"
    assert info["skipped"] == [str(d / "image.png")]
    p = prepare([str(d)])
    assert p.path == tmp_path / "prepared" / "books"
    assert "skipped 1 binary file(s): image.png" in p.summary()
    prepare([str(d)], d / "out")  # a prepared directory inside a source directory is not read as text
    assert read_sources([str(d)])[0] == text
    with pytest.raises(LstmgenError, match="already a prepared directory"):
        read_sources([str(d / "out")])


def test_directory_without_text(tmp_path):
    write(tmp_path / "d" / "x.bin", b"\x00\x01")
    with pytest.raises(LstmgenError, match="no text files"):
        read_sources([str(tmp_path / "d")])


def test_stdin(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from a pipe\r\n")))
    p = prepare(["-"])
    assert p.path == tmp_path / "prepared" / "stdin"
    assert p.vocab.decode(p.ids) == "from a pipe\n" and p.meta["sources"] == ["-"]


def test_builtins():
    p = prepare(["builtin:reber"], val_fraction=0.05)
    assert p.path.name == "reber" and set(p.vocab.chars) == set("BTPSXVE\n")
    assert p.meta["encoding"] == "builtin"
    with pytest.raises(LstmgenError, match=r"builtin:pydocs.*builtin:reber"):
        read_sources(["builtin:nope"])


def test_pydocs_builder_on_fake_stdlib(tmp_path):
    lib = tmp_path / "lib"
    long = "This module does a great many useful things for the people who import it every day."
    write(
        lib / "alpha.py",
        f'"""{long}"""\n\ndef f():\n    """\n    Function doc that is long enough to keep,\n'
        '        with indentation cleaned by cleandoc here.\n    """\n\n'
        'class C:\n    """Short."""\n',
    )
    write(lib / "beta" / "__init__.py", f'"""Beta: {long}"""\n')
    write(lib / "test" / "test_x.py", f'"""Test: {long}"""\n')
    write(lib / "idlelib" / "x.py", f'"""Idle: {long}"""\n')
    write(lib / "site-packages" / "y.py", f'"""Site: {long}"""\n')
    write(lib / "broken.py", "def (:\n")
    write(lib / "gamma.py", '"""\u4e2d\u6587\u4e2d\u6587\u4e2d\u6587 \u4e2d\u6587\u4e2d\u6587 ' * 30 + '"""\n')
    text = builtin.build_pydocs(lib)
    assert text == (
        f"{long}\n\nFunction doc that is long enough to keep,\n    with indentation cleaned by cleandoc "
        f"here.\n\nBeta: {long}\n\n"
    )


def test_pydocs_real_stdlib_cached_and_nothing_imported(monkeypatch):
    before = set(sys.modules)
    text = builtin.builtin_text("pydocs")
    assert 1_000_000 <= len(text) <= 2_100_000
    assert not {"antigravity", "this", "turtle", "tkinter", "idlelib"} & (set(sys.modules) - before)

    def no_rebuild(*a, **k):
        raise AssertionError("the second call must come from the cache")

    monkeypatch.setattr(builtin, "build_pydocs", no_rebuild)
    assert builtin.builtin_text("pydocs") == text


# -- URLs ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):
            hits.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


def test_url_downloaded_once(tmp_path, server):
    root, base, hits = server
    write(root / "book.txt", GUTENBERG.encode("cp1252"))
    p = prepare([f"{base}/book.txt"])
    assert p.path == tmp_path / "prepared" / "book" and p.meta["encoding"] == "cp1252"
    assert len(list((tmp_path / "cache" / "downloads").iterdir())) == 1
    read_sources([f"{base}/book.txt"])
    assert len(hits) == 1


def test_url_errors(server):
    _, base, _ = server
    with pytest.raises(LstmgenError, match=f"{base}/missing.txt.*404"):
        read_sources([f"{base}/missing.txt"])
    with pytest.raises(LstmgenError, match="could not download"):
        read_sources(["http://127.0.0.1:9/x.txt"])


# -- prepared directory -------------------------------------------------------------------------------------------


def test_prepared_contract(tmp_path):
    text = "".join(chr(97 + (i * 7) % 26) for i in range(1000))
    p = prepare([write(tmp_path / "t.txt", text)], tmp_path / "out")
    assert isinstance(p, Prepared) and is_prepared_dir(tmp_path / "out")
    assert sorted(x.name for x in p.path.iterdir()) == ["ids.bin", "meta.json", "vocab.json"]
    m = json.loads((p.path / "meta.json").read_text())
    assert m == p.meta
    assert {k: m[k] for k in ("format", "version", "dtype", "n_chars", "n_train", "n_val", "vocab_size")} == {
        "format": "lstmgen-prepared",
        "version": 1,
        "dtype": "uint8",
        "n_chars": 1000,
        "n_train": 900,
        "n_val": 100,
        "vocab_size": 26,
    }
    for key in ("val_fraction", "encoding", "lowercase", "sources", "sha256", "created", "lstmgen_version"):
        assert key in m
    raw = np.fromfile(p.path / "ids.bin", dtype="<u1")
    assert raw.size == 1000 and np.array_equal(raw, p.ids)
    assert isinstance(p.ids, np.memmap) and np.shares_memory(p.train, p.ids) and np.shares_memory(p.val, p.ids)
    assert p.vocab.decode(p.train) == text[:900] and p.vocab.decode(p.val) == text[900:]
    assert "1,000" in p.summary() and "26" in p.summary()
    q = load_prepared(p.path)
    assert q.meta == p.meta and q.vocab == p.vocab and np.array_equal(q.ids, p.ids)


@pytest.mark.parametrize("f, n_val", [(0, 0), (0.25, 25), (0.999, 99)])
def test_val_fraction(tmp_path, f, n_val):
    p = prepare([write(tmp_path / "t.txt", "ab" * 50)], val_fraction=f)
    assert p.meta["n_val"] == n_val and p.meta["n_train"] == 100 - n_val and p.val.size == n_val


@pytest.mark.parametrize("f", [1, 1.5, -0.1, float("nan"), "x"])
def test_bad_val_fraction(tmp_path, f):
    with pytest.raises(LstmgenError, match="val-fraction"):
        prepare([write(tmp_path / "t.txt", "abc")], val_fraction=f)


def test_lowercase(tmp_path):
    p = prepare([write(tmp_path / "t.txt", "Hello World")], lowercase=True)
    assert p.vocab.decode(p.ids) == "hello world" and p.meta["lowercase"] is True


def test_uint16_stream(tmp_path):
    text = "".join(chr(0x400 + i % 300) for i in range(5000))
    p = prepare([write(tmp_path / "t.txt", text)])
    assert p.meta["dtype"] == "uint16" and p.ids.dtype == np.uint16 and p.vocab.size == 300
    assert (p.path / "ids.bin").stat().st_size == 10000
    assert p.vocab.decode(load_prepared(p.path).ids) == text


def test_vocab_too_large():
    text = "".join(chr(c) for c in range(0x20, 0x20 + 65537 + 2048) if not 0xD800 <= c <= 0xDFFF)
    with pytest.raises(LstmgenError, match=r"65,537 characters is too large.*--lowercase"):
        encode_corpus(text[:65537])


def test_round_trip_big_text(tmp_path):
    rng = np.random.default_rng(0)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz ,.\n\u00e9\u2014"))
    text = "".join(alphabet[rng.integers(0, alphabet.size, 3_200_000)].tolist())
    path = write(tmp_path / "big.txt", text)
    p = prepare([path])  # its speed is measured by bench/bench_spine.py, not asserted here
    assert p.vocab.decode(p.ids) == text


def corrupt_cases():
    def truncate(d):
        (d / "ids.bin").write_bytes((d / "ids.bin").read_bytes()[:-1])

    def flip(d):
        data = bytearray((d / "ids.bin").read_bytes())
        data[0] ^= 1
        (d / "ids.bin").write_bytes(bytes(data))

    def meta(**changes):
        def f(d):
            m = json.loads((d / "meta.json").read_text())
            m.update(changes)
            (d / "meta.json").write_text(json.dumps(m))

        return f

    return {
        "truncated": truncate,
        "flipped": flip,
        "garbage meta": lambda d: (d / "meta.json").write_text("{oops"),
        "no meta": lambda d: (d / "meta.json").unlink(),
        "no ids": lambda d: (d / "ids.bin").unlink(),
        "no vocab": lambda d: (d / "vocab.json").unlink(),
        "version": meta(version=99),
        "format": meta(format="x"),
        "vocab size": meta(vocab_size=3),
        "split": meta(n_val=5),
        "dtype": meta(dtype="uint16"),
        "bad vocab": lambda d: (d / "vocab.json").write_text('{"format": "lstmgen-vocab", "version": 1}'),
    }


@pytest.mark.parametrize("case", sorted(corrupt_cases()))
def test_load_prepared_corrupt(tmp_path, case):
    p = prepare([write(tmp_path / "t.txt", "hello world, hello prepared directory\n")], tmp_path / "p")
    corrupt_cases()[case](p.path)
    with pytest.raises(LstmgenError, match="lstmgen prepare"):
        load_prepared(p.path)


def test_load_prepared_not_a_dir(tmp_path):
    with pytest.raises(LstmgenError, match="lstmgen prepare"):
        load_prepared(tmp_path / "nothing")
    with pytest.raises(LstmgenError, match="not an lstmgen prepared directory"):
        load_prepared(tmp_path)


def test_refuses_to_clobber_user_files(tmp_path):
    src = write(tmp_path / "t.txt", "some text\n")
    out = tmp_path / "mine"
    write(out / "notes.txt", "precious")
    with pytest.raises(LstmgenError, match=r"notes\.txt"):
        prepare([src], out)
    assert (out / "notes.txt").read_text() == "precious" and not (out / "ids.bin").exists()
    with pytest.raises(LstmgenError, match="not a directory"):
        prepare([src], out / "notes.txt")
    with pytest.raises(LstmgenError, match="writable"):
        prepare([src], out / "notes.txt" / "sub")


def test_replaces_existing_prepared_dir(tmp_path):
    out = tmp_path / "p"
    prepare([write(tmp_path / "a.txt", "aaaa bbbb\n")], out)
    p = prepare([write(tmp_path / "b.txt", "xyz\n")], out, force=True)  # another corpus: only when asked
    assert load_prepared(out).vocab.chars == ["\n", "x", "y", "z"] == p.vocab.chars
    assert sorted(x.name for x in out.iterdir()) == ["ids.bin", "meta.json", "vocab.json"]


def test_interrupted_prepare_leaves_uncommitted_dir(tmp_path, monkeypatch):
    src = write(tmp_path / "t.txt", "some text\n")
    out = tmp_path / "p"
    prepare([src], out)

    def crash(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lstmgen.data.prepare.write_bytes", crash)
    with pytest.raises(LstmgenError, match="free space"):
        prepare([write(tmp_path / "u.txt", "other text\n")], out, force=True)
    # the old meta.json was marked incomplete before the new ids.bin went in
    assert json.loads((out / "meta.json").read_text())["state"] == "incomplete"
    with pytest.raises(LstmgenError, match="lstmgen prepare"):
        load_prepared(out)
    monkeypatch.undo()
    assert prepare([src], out).vocab.decode(load_prepared(out).ids) == "some text\n"


def test_prepared_for_training_cache(tmp_path):
    src = write(tmp_path / "t.txt", "to be or not to be\n" * 20)
    a = prepared_for_training(src)
    assert a.path.parent == tmp_path / "cache" / "prepared"
    stamp = (a.path / "meta.json").stat().st_mtime_ns
    b = prepared_for_training(src)
    assert b.path == a.path and (b.path / "meta.json").stat().st_mtime_ns == stamp
    c = prepared_for_training(src, lowercase=True, val_fraction=0.2)
    assert c.path != a.path and c.meta["n_val"] == 76
    assert prepared_for_training(str(a.path)).path == a.path  # a prepared dir is used as is
    (a.path / "ids.bin").write_bytes(b"")  # a damaged entry is rebuilt
    assert prepared_for_training(src).vocab.decode(load_prepared(a.path).ids) == "to be or not to be\n" * 20
    d = prepared_for_training(src, cache_dir=tmp_path / "elsewhere")
    assert d.path.parent == tmp_path / "elsewhere"


def test_no_tensorflow_imported():
    code = (
        "import sys, lstmgen.data.prepare, lstmgen.data.prepared, lstmgen.data.builtin, lstmgen.data.vocab, "
        "lstmgen.data.reber, lstmgen.data.sources; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
