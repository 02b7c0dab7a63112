"""`lstmgen serve` as a real uvicorn process on 127.0.0.1 (a free port): a client that hangs up mid-stream stops its
stream, and SIGTERM lets the request in flight finish, then exits 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parents[1]
LONG = 5_000_000  # minutes of generation: only a hang-up ends it in time
LENGTH = 200_000  # a few seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tiny_run):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmgen", "serve", str(tiny_run), "--port", str(port), "--max-length", str(LONG)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)
    yield proc, base
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def streams_in_flight(base: str) -> int:
    return httpx.get(f"{base}/healthz", timeout=5).json()["streams"]


def test_hanging_up_mid_stream_stops_the_stream(server):
    proc, base = server
    with httpx.stream("POST", f"{base}/v1/generate", json={"length": LONG, "stream": True}, timeout=30) as r:
        chunks = r.iter_text()  # kept: a dropped iterator closes the response
        assert "event: start" in next(chunks)
        assert streams_in_flight(base) == 1
    deadline = time.monotonic() + 5
    while streams_in_flight(base) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert streams_in_flight(base) == 0
    assert proc.poll() is None  # still serving


def test_sigterm_drains_the_request_in_flight_and_exits_0(server):
    proc, base = server
    got, started = [], threading.Event()

    def client():
        with httpx.stream(
            "POST", f"{base}/v1/generate", json={"length": LENGTH, "stream": True, "seed": 1}, timeout=60
        ) as r:
            for chunk in r.iter_text():
                got.append(chunk)
                started.set()

    t = threading.Thread(target=client)
    t.start()
    assert started.wait(30)
    assert streams_in_flight(base) == 1
    proc.send_signal(signal.SIGTERM)
    t.join(90)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    text = "".join(got)
    done = [b for b in text.split("\n\n") if b.startswith("event: done")]
    assert done and json.loads(done[0].split("data: ", 1)[1]) == {"chars": [LENGTH]}
    assert "stopped; served 1 requests" in err and "Traceback" not in err
