"""`lstmgen serve` (issue 14): the API in-process through httpx's ASGI transport, every bad parameter a 4xx one-line
JSON error, the stream cap, the token, a client that disconnects mid-stream, and the Python engine API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from contract import fails  # noqa: E402
from lstmgen.generation.engine import Engine  # noqa: E402
from lstmgen.serving.app import app  # noqa: E402
from lstmgen.serving.params import Limits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LIMITS = Limits(max_length=100_000, max_samples=4, max_streams=6, max_prime=200, max_body=4096)


@pytest.fixture(scope="module")
def engine(tiny_run):
    with Engine.load([tiny_run], max_streams=LIMITS.max_streams) as e:
        yield e


def call(web, method: str, path: str, **kwargs) -> httpx.Response:
    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def web(engine):
    return app(engine=engine, limits=LIMITS)


def events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines.get("event", "message"), json.loads(lines["data"])))
    return out


def test_generate_json_is_the_cli_sample_for_the_seed(web, tiny_run):
    from lstmgen.generation.generate import generate
    from lstmgen.generation.sample import Sampling

    r = call(web, "POST", "/v1/generate", json={"prime": "The ", "length": 120, "seed": 5, "temperature": 0.9})
    assert r.status_code == 200, r.text
    body = r.json()
    want = generate(str(tiny_run), prime="The ", length=120, sampling=Sampling(temperature=0.9), seed=5, engine="numpy")
    assert body["samples"] == want and body["model"] == "run" and body["prime"] == "The "


def test_stream_is_server_sent_events_with_the_same_text(web):
    req = {"prime": "How ", "length": 300, "seed": 2, "top_p": 0.9}
    whole = call(web, "POST", "/v1/generate", json=req).json()["samples"][0]
    r = call(web, "POST", "/v1/generate", json={**req, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    evs = events(r.text)
    assert evs[0] == ("start", {"model": "run", "prime": "How ", "num_samples": 1})
    assert evs[-1] == ("done", {"chars": [300]})
    assert "How " + "".join(d["text"] for e, d in evs if e == "message") == whole


def test_several_samples_are_reproducible_and_differ(web):
    req = {"length": 80, "seed": 9, "num_samples": 3}
    a, b = (call(web, "POST", "/v1/generate", json=req).json()["samples"] for _ in range(2))
    assert a == b and len(set(a)) == 3 and all(len(s) == 80 for s in a)


def test_models_healthz_openapi_and_page(web):
    m = call(web, "GET", "/v1/models").json()["models"]
    assert m[0]["name"] == "run" and m[0]["vocab_size"] == 35 and m[0]["units"] == 16 and m[0]["layers"] == 1
    assert m[0]["training_data"].endswith("corpus.txt") and m[0]["best_val_loss"] > 0
    assert call(web, "GET", "/healthz").json()["status"] == "ok"
    doc = call(web, "GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/v1/generate" in doc["paths"]
    props = doc["paths"]["/v1/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert props["length"]["maximum"] == LIMITS.max_length and props["top_p"]["maximum"] == 1
    page = call(web, "GET", "/")
    assert page.status_code == 200 and "<script>" in page.text and "http" not in page.text.split("<script>")[1]


BAD = [
    ('{"temperature": NaN}', 400, "temperature must be a finite number"),
    ('{"temperature": Infinity}', 400, "temperature must be a finite number"),
    ('{"temperature": 0}', 400, "temperature must be a finite number above 0"),
    ('{"temperature": -1.5}', 400, "temperature"),
    ('{"temperature": "hot"}', 400, "temperature must be a number"),
    ('{"top_p": 1.5}', 400, r"top_p must be in \(0, 1\]"),
    ('{"top_p": 0}', 400, "top_p must be in"),
    ('{"top_p": NaN}', 400, "top_p must be in"),
    ('{"top_k": -1}', 400, "top_k must be 0"),
    ('{"top_k": 2.5}', 400, "top_k must be an integer"),
    ('{"length": -1}', 400, "length must be between 0 and 100000"),
    ('{"length": 100001}', 400, "length must be between"),
    ('{"length": "10"}', 400, 'length must be an integer, got "10"'),
    ('{"length": 10.5}', 400, "length must be an integer"),
    ('{"length": true}', 400, "length must be an integer"),
    ('{"length": 1e999}', 400, "length must be an integer"),
    ('{"num_samples": 0}', 400, "num_samples must be between 1 and 4"),
    ('{"num_samples": 5}', 400, "num_samples must be between"),
    ('{"greedy": "yes"}', 400, "greedy must be a boolean"),
    ('{"greedy": true, "top_p": 0.5}', 400, "greedy always takes"),
    ('{"seed": -1}', 400, "seed must be between 0"),
    ('{"seed": "abc"}', 400, "seed must be an integer"),
    ('{"prime": 5}', 400, "prime must be a string"),
    ('{"prime": "' + "x" * 201 + '"}', 400, "prime is 201 characters; at most 200"),
    ('{"stream": 1}', 400, "stream must be a boolean"),
    ('{"model": "nope"}', 404, "unknown model 'nope'; GET /v1/models lists them: run"),
    ('{"model": 3}', 400, "model must be a string"),
    ('{"lenght": 10}', 400, "unknown parameter 'lenght'"),
    ('{"length": 10', 400, "not valid JSON"),
    ("[1, 2]", 400, "must be a JSON object, got list"),
    ('"text"', 400, "must be a JSON object, got str"),
    (b"\xff\xfe{}", 400, "not valid JSON"),
    ('{"length": 1' + "0" * 4000 + "}", 400, r"length must be between 0 and 100000, got 10{36}\.\.\.$"),
    ('{"prime": "' + "y" * 5000 + '"}', 413, "over 4096 bytes"),
]


@pytest.mark.parametrize("body,status,match", BAD, ids=[f"{i}-{b[:24]!r}" for i, (b, _, _) in enumerate(BAD)])
def test_bad_parameters_are_a_one_line_json_error(web, body, status, match):
    import re

    r = call(web, "POST", "/v1/generate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()
    assert list(err) == ["error"] and "\n" not in err["error"] and re.search(match, err["error"]), err
    assert call(web, "GET", "/healthz").json()["status"] == "ok"  # the server carries on


def test_body_over_the_limit_without_a_length_header_is_413(web):
    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    r = call(web, "POST", "/v1/generate", content=chunks())
    assert r.status_code == 413 and "over 4096 bytes" in r.json()["error"]


def test_unknown_path_and_method_are_json_errors(web):
    assert call(web, "GET", "/v2/nothing").json() == {"error": "Not Found"}
    r = call(web, "GET", "/v1/generate")
    assert r.status_code == 405 and list(r.json()) == ["error"]


def test_over_the_stream_cap_is_429(web, engine):
    with engine._cv:  # the stepping thread waits for this lock, so the streams below stay in flight
        held = engine.submit(length=10, num_samples=4) + engine.submit(length=10)
        r = call(web, "POST", "/v1/generate", json={"length": 5, "num_samples": 2})
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert "6 streams are already running" in r.json()["error"]
    assert all("".join(s) for s in held)
    assert call(web, "POST", "/v1/generate", json={"length": 5, "num_samples": 2}).status_code == 200


def test_token_is_checked_on_every_api_call(engine):
    guarded = app(engine=engine, limits=LIMITS, token="s3cret")
    for method, path in (("GET", "/v1/models"), ("POST", "/v1/generate")):
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
            r = call(guarded, method, path, headers=headers, json={})
            assert r.status_code == 401 and "bearer token" in r.json()["error"]
    ok = {"authorization": "Bearer s3cret"}
    assert call(guarded, "POST", "/v1/generate", headers=ok, json={"length": 3}).status_code == 200
    assert call(guarded, "GET", "/healthz").status_code == 200


def test_client_disconnect_mid_stream_stops_the_stream_at_once(web, engine):
    """Drive the ASGI app by hand: take the first chunk of a 100,000-character stream, then disconnect."""

    async def go():
        got_chunk, sent = asyncio.Event(), []
        body = json.dumps({"length": 100_000, "stream": True}).encode()
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            if messages:
                return messages.pop(0)
            await got_chunk.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and b'data: {"sample"' in message.get("body", b""):
                got_chunk.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/generate",
            "raw_path": b"/v1/generate",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        t0 = time.monotonic()
        await asyncio.wait_for(web(scope, receive, send), timeout=30)
        return time.monotonic() - t0, sent

    _seconds, sent = asyncio.run(go())
    assert sent[0]["status"] == 200
    deadline = time.monotonic() + 5
    while engine.active() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.active() == 0
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()
    produced = sum(len(d["text"]) for e, d in events(text) if e == "message")
    assert produced < 100_000 and "event: done" not in text


def test_python_api_streams_in_process(tiny_run):
    from lstmgen.generation.generate import generate
    from lstmgen.generation.sample import Sampling

    with Engine.load([tiny_run]) as e:
        chunks = list(e.stream(prime="Pack ", length=150, seed=11, temperature=0.7))
        texts = ["".join(s) for s in e.submit(length=40, num_samples=2, seed=1)]
    assert (
        "Pack " + "".join(chunks)
        == generate(
            str(tiny_run), prime="Pack ", length=150, seed=11, sampling=Sampling(temperature=0.7), engine="numpy"
        )[0]
    )
    assert [len(t) for t in texts] == [40, 40]


def test_serve_without_the_web_stack_is_one_line(tiny_run):
    code = "import sys; sys.modules['uvicorn'] = None\nfrom lstmgen.cli.main import main\nmain(sys.argv[1:])"
    proc = subprocess.run(
        [sys.executable, "-c", code, "serve", str(tiny_run)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        (
            "lstmgen: error: lstmgen serve needs the web server packages (uvicorn is not installed); install them "
            "with: pip install 'lstmgen[serve]'"
        )
    ]


def test_a_public_address_needs_a_token(tiny_run):
    fails(
        ["serve", str(tiny_run), "--host", "0.0.0.0"],
        r"--host 0.0.0.0 would let anyone on the network use this "
        r"server; give --token TOKEN .* or --insecure",
    )


def test_serve_a_missing_run_is_one_line(tmp_path):
    fails(["serve", str(tmp_path / "nope")], r"model or run directory '.*nope' does not exist")


def test_serve_on_a_busy_port_is_one_line(tiny_run):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        fails(
            ["serve", str(tiny_run), "--port", str(port)],
            rf"cannot listen on 127.0.0.1:{port}: Address already in "
            r"use; pick another --port",
        )


def test_a_failing_step_ends_every_stream_instead_of_hanging(tiny_run, monkeypatch):
    with Engine.load([tiny_run]) as e:
        model = next(iter(e.models.values())).step_model
        monkeypatch.setattr(model, "step", lambda ids, state: 1 / 0)
        streams = e.submit(length=50, num_samples=2)
        assert ["".join(s) for s in streams] == ["", ""]  # ended, not waiting forever
        deadline = time.monotonic() + 5
        while e._thread is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert e.error == "ZeroDivisionError: division by zero" and e.active() == 0
        monkeypatch.undo()
        assert len("".join(e.stream(length=30))) == 30  # the next request starts a fresh thread


def test_serving_never_imports_tensorflow(tiny_run):
    code = (
        "import sys, asyncio, httpx\nfrom lstmgen.serving.app import app\nweb = app([sys.argv[1]])\n"
        "async def go():\n"
        "    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url='http://t') as c:\n"
        "        return (await c.post('/v1/generate', json={'length': 20})).status_code\n"
        "print(asyncio.run(go()),\n"
        "      sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'jax'}))\n"
        "web.state.engine.stop()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tiny_run)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=60,
    )
    assert proc.stdout.split() == ["200", "[]"], proc.stderr
