"""The corpus catalog: download once from a local HTTP server, verify size and sha256, unpack zips, cache, errors."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from lstmgen.cli.main import cli
from lstmgen.data import catalog
from lstmgen.data.prepared import load_prepared
from lstmgen.data.sources import read_sources
from lstmgen.errors import DataError

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 40
ZIPPED = "the quick brown fox jumps over the lazy dog " * 200
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """A fresh cache per test, inside the session's isolated one (conftest), so tests do not see each other's."""
    monkeypatch.setenv("LSTMGEN_CACHE", str(Path(os.environ["LSTMGEN_CACHE"]) / tmp_path.name))


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

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


def entry(name, url, data: bytes, **kw):
    return {
        "name": name,
        "title": f"test corpus {name}",
        "url": url,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "licence": "public domain",
        **kw,
    }


@pytest.fixture
def cat(tmp_path, server, monkeypatch):
    """A catalog of a plain text file and a zip served on 127.0.0.1; returns (server root, base URL, hits)."""
    root, base, hits = server
    (root / "input.txt").write_bytes(TEXT.encode())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("README", "not this one")
        z.writestr("fox8", ZIPPED)
    (root / "fox8.zip").write_bytes(buf.getvalue())
    corpora = [
        entry("shakes", f"{base}/input.txt", TEXT.encode()),
        entry("fox8", f"{base}/fox8.zip", buf.getvalue(), member="fox8"),
    ]
    write_catalog(tmp_path, monkeypatch, corpora)
    monkeypatch.chdir(tmp_path)
    return root, base, hits


def write_catalog(tmp_path, monkeypatch, corpora):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"format": catalog.FORMAT, "version": 1, "corpora": corpora}))
    monkeypatch.setenv("LSTMGEN_CATALOG", str(path))
    return path


def catalog_files():
    d = catalog.cache_subdir("catalog")
    return sorted(p.name for p in d.rglob("*") if p.is_file())


def test_download_verify_cache(cat):
    _, _, hits = cat
    text, info = read_sources(["shakes"])
    assert text == TEXT and info["sources"] == ["shakes"] and info["name"] == "shakes"
    assert hits == ["/input.txt"]
    assert read_sources(["shakes"])[0] == TEXT
    assert hits == ["/input.txt"], "the second use must come from the cache"


def test_zip_member_extracted_and_archive_dropped(cat):
    _, _, hits = cat
    text, _ = read_sources(["fox8"])
    assert text == ZIPPED
    assert catalog_files() == ["fox8"]  # only the verified member is kept
    read_sources(["fox8"])
    assert hits == ["/fox8.zip"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("sha256", "0" * 64, "has sha256 [0-9a-f]{64}, expected 0{64}"),
        ("size", 12345, r"has [\d,]+ bytes, expected 12,345"),
    ],
)
def test_mismatch_is_one_line_and_nothing_cached(tmp_path, server, monkeypatch, field, value, message):
    root, base, _ = server
    (root / "input.txt").write_bytes(TEXT.encode())
    write_catalog(tmp_path, monkeypatch, [{**entry("shakes", f"{base}/input.txt", TEXT.encode()), field: value}])
    with pytest.raises(DataError, match=message) as e:
        read_sources(["shakes"])
    assert "\n" not in str(e.value) and "shakes" in str(e.value)
    assert catalog_files() == []


def test_connection_refused_one_line_through_cli(tmp_path, monkeypatch):
    write_catalog(tmp_path, monkeypatch, [entry("offline", "http://127.0.0.1:9/input.txt", b"x")])
    loud = CliRunner().invoke(cli, ["prepare", "offline", "-o", str(tmp_path / "p")])
    assert loud.exit_code == 1 and loud.output.splitlines()[0].startswith("downloading offline"), loud.output
    result = CliRunner().invoke(cli, ["prepare", "offline", "-o", str(tmp_path / "p"), "-q"])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1] == loud.output.splitlines()[-1]
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("lstmgen: error: "), result.output
    assert re.search(
        r"could not download offline from http://127\.0\.0\.1:9/input\.txt: .*refused.*; "
        r"check your connection, or download it yourself and pass the file's path",
        lines[0],
    )
    assert catalog_files() == []


def test_http_error(cat):
    root, _, _ = cat
    (root / "input.txt").unlink()
    with pytest.raises(DataError, match=r"could not download shakes from .*: HTTP 404"):
        read_sources(["shakes"])


def test_existing_path_wins(cat, tmp_path):
    _, _, hits = cat
    (tmp_path / "shakes").write_text("my own file\n")
    assert read_sources(["shakes"])[0] == "my own file\n"
    assert hits == []


def test_unknown_source_lists_catalog(cat):
    with pytest.raises(DataError, match=r"nosuch: no such file or directory, nor a catalog name \(fox8, shakes\)"):
        read_sources(["nosuch"])


def test_prepare_end_to_end(cat, tmp_path):
    result = CliRunner().invoke(cli, ["prepare", "shakes", "-q"])
    assert result.exit_code == 0, result.output
    p = load_prepared(tmp_path / "prepared" / "shakes")
    assert p.vocab.decode(p.ids) == TEXT and p.meta["sources"] == ["shakes"]


def test_broken_catalog_is_one_line(tmp_path, monkeypatch):
    write_catalog(tmp_path, monkeypatch, [{"name": "x", "url": "ftp://nope"}])
    with pytest.raises(DataError, match="entry x lacks title, size, sha256, licence") as e:
        catalog.load()
    assert "\n" not in str(e.value)
    bad = entry("y", "ftp://host/y.txt", b"y")
    write_catalog(tmp_path, monkeypatch, [bad])
    with pytest.raises(DataError, match="entry y needs an http"):
        catalog.load()


def test_shipped_catalog_validates(monkeypatch):
    monkeypatch.delenv("LSTMGEN_CATALOG", raising=False)
    shipped = REPO / "data" / "catalog.json"
    assert catalog.SHIPPED.resolve() == shipped.resolve()  # the package reads the repository's data/ file
    raw = json.loads(shipped.read_text("utf-8"))["corpora"]
    entries = catalog.load()
    assert set(entries) == {r["name"] for r in raw} and "tinyshakespeare" in entries
    for r in raw:
        assert set(catalog.FIELDS) <= set(r)
        assert re.fullmatch(r"[0-9a-f]{64}", r["sha256"]) and r["url"].startswith(("https://", "http://"))
        assert isinstance(r["size"], int) and r["size"] > 0
    ts = entries["tinyshakespeare"]
    assert (ts.size, ts.sha256[:8]) == (1115394, "86c4e6aa")
