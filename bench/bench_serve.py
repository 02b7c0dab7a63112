"""Load on `lstmgen serve` over 127.0.0.1: aggregate chars/s with 1, 8 and 64 clients, time to first character,
failures, and the server's memory over a soak; against the in-process 64-stream rate measured in the same run.

The server is a real `lstmgen serve` process on a free port of 127.0.0.1. Each client (a thread with its own
kept-alive connection, stdlib http.client) sends streaming requests
(`"stream": true`, 500 characters each) one after another; every phase is bounded by a request count
(--requests, per client) and a time (--phase-seconds), whichever comes first. Time to first character is from
sending the request to the first message carrying text. A request fails when its status is not 200, its
connection breaks, or it ends with fewer characters than asked. The soak keeps 8 clients busy for --soak-seconds
and samples the server's RSS (/proc/PID/status) every 5 s. The in-process reference steps 64 streams of the same
model with `lstmgen.generation.engine.Engine` (the engine the server uses, without HTTP) and with the plain NumPy loop
(`sample.generate_ids`, what `lstmgen generate --num-samples 64` runs).

Targets (issue 14, 2-core machine): 64 clients ≥ 40,000 chars/s and ≥ 0.6 × the in-process 64-stream rate;
8 clients: first character p50 ≤ 50 ms, p99 ≤ 250 ms; no failed request; RSS flat over a 5-minute soak.

    python bench/bench_serve.py                       # trains a 2 × 256 run for 2 steps to serve
    python bench/bench_serve.py --run runs/book       # an existing run
    python bench/bench_serve.py --quick               # a short check of the script (seconds, not the benchmark)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from report import save_json

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one by default): fair on a shared machine, unlike wall time."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))]


def in_process(run: str, length: int, streams: int) -> dict:
    """chars/s of `streams` streams of `length` characters: the server's engine, and the plain NumPy loop."""
    from lstmgen.generation.engine import Engine
    from lstmgen.generation.generate import load
    from lstmgen.generation.sample import Sampling, generate_ids

    with Engine.load([run]) as engine:
        engine.submit(length=20, num_samples=streams)  # warm-up
        t0, c0 = time.perf_counter(), cpu_seconds()
        texts = ["".join(s) for s in engine.submit(prime="The ", length=length, num_samples=streams, seed=1)]
        engine_rate = sum(map(len, texts)) / (time.perf_counter() - t0)
        engine_per_cpu = sum(map(len, texts)) / (cpu_seconds() - c0)
    step_model, vocab, _ = load(run, warn=lambda m: None)
    prime = vocab.encode("The ", unknown="map")
    t0 = time.perf_counter()
    for _ in generate_ids(step_model, prime, length, streams, Sampling(), 1):
        pass
    return {
        "engine_chars_per_s": engine_rate,
        "engine_chars_per_cpu_s": engine_per_cpu,
        "numpy_loop_chars_per_s": streams * length / (time.perf_counter() - t0),
    }


def one_request(conn: http.client.HTTPConnection, length: int) -> tuple[bool, float | None, int]:
    """One streaming request on a kept-alive connection: (complete, seconds to first character, characters)."""
    t0 = time.perf_counter()
    first, chars, done = None, 0, False
    try:
        conn.request(
            "POST",
            "/v1/generate",
            body=json.dumps({"prime": "The ", "length": length, "stream": True}),
            headers={"content-type": "application/json"},
        )
        r = conn.getresponse()
        if r.status != 200:
            r.read()
            return False, None, 0
        for line in iter(r.readline, b""):
            if line.startswith(b"event: done"):
                done = True
            elif line.startswith(b'data: {"sample"'):
                n = len(json.loads(line[6:])["text"])
                if n and first is None:
                    first = time.perf_counter() - t0
                chars += n
    except (OSError, http.client.HTTPException, ValueError):  # a broken connection is a failed request
        conn.close()
        return False, first, chars
    return done and chars == length, first, chars


def phase(port: int, clients: int, requests: int, seconds: float, length: int, pid: int) -> dict:
    """`clients` threads, each with its own kept-alive connection, sending requests one after another.

    Blocking sockets in threads, not an asyncio client: on 2 cores an asyncio HTTP client's own event loop, busy
    with 64 streams, delayed sending new requests by ~0.5-1 s and so inflated the time to first character."""
    results, lock = [], threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for _ in range(requests):
            if time.perf_counter() > deadline:
                break
            r = one_request(conn, length)
            with lock:
                results.append(r)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    t0, c0, mine = time.perf_counter(), cpu_seconds(pid), cpu_seconds()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu, mine = time.perf_counter() - t0, cpu_seconds(pid) - c0, cpu_seconds() - mine
    ttfc = [f * 1000 for ok, f, _ in results if f is not None]
    chars = sum(c for _, _, c in results)
    return {
        "clients": clients,
        "requests": len(results),
        "failed": sum(not ok for ok, _, _ in results),
        "chars": chars,
        "seconds": wall,
        "chars_per_s": chars / wall,
        "server_cpu_s": cpu,
        "load_generator_cpu_s": mine,
        "chars_per_server_cpu_s": chars / max(cpu, 1e-9),
        "ttfc_ms_p50": percentile(ttfc, 50),
        "ttfc_ms_p99": percentile(ttfc, 99),
    }


def soak(port: int, pid: int, seconds: float, length: int) -> dict:
    samples, box = [(0.0, rss_mb(pid))], {}
    runner = threading.Thread(target=lambda: box.update(r=phase(port, 8, 10**9, seconds, length, pid)))
    t0 = time.perf_counter()
    runner.start()
    while runner.is_alive():
        runner.join(min(5.0, max(seconds / 10, 0.5)))
        samples.append((time.perf_counter() - t0, rss_mb(pid)))
    return {
        **box["r"],
        "rss_mb_start": samples[0][1],
        "rss_mb_end": samples[-1][1],
        "rss_mb_max": max(m for _, m in samples),
        "rss_samples": samples,
    }


def start_server(run: str, port: int) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmgen", "serve", run, "--port", str(port), "-q"],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit("lstmgen serve exited before it was ready")
    proc.kill()
    raise SystemExit("lstmgen serve did not start in 120 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run directory to serve (default: train a 2 × 256 model for 2 steps)")
    ap.add_argument("--length", type=int, default=500, help="characters per request")
    ap.add_argument("--clients", default="1,8,64")
    ap.add_argument("--requests", type=int, default=20, help="requests per client and phase (at most)")
    ap.add_argument("--phase-seconds", type=float, default=60, help="time bound of each phase")
    ap.add_argument("--soak-seconds", type=float, default=300)
    ap.add_argument("--quick", action="store_true", help="2 requests per client, 10 s phases, a 10 s soak")
    ap.add_argument("--out", default=None, help="JSON results (default bench/results/serve[_quick].json)")
    a = ap.parse_args()
    if a.quick:
        a.requests, a.phase_seconds, a.soak_seconds = 2, 10.0, min(a.soak_seconds, 10.0)
    out = Path(a.out or HERE / "results" / f"serve{'_quick' if a.quick else ''}.json")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        if a.run:
            run = a.run
        else:
            from bench_generate_cli import make_run

            run = str(make_run(Path(tmp), quick=False))
        before = in_process(run, a.length, 64)
        port = free_port()
        proc = start_server(run, port)
        try:
            phases = [
                phase(port, int(c), a.requests, a.phase_seconds, a.length, proc.pid) for c in a.clients.split(",")
            ]
            after = in_process(run, a.length, 64)  # measured on both sides of the load: the machine may change
            soaked = soak(port, proc.pid, a.soak_seconds, a.length)
        finally:
            proc.terminate()
            code = proc.wait(60)
    reference = {k: (before[k] + after[k]) / 2 for k in before}
    reference.update(before=before, after=after)
    by = {p["clients"]: p for p in phases}
    report = {
        "run": a.run or "2 × 256, trained 2 steps for the bench",
        "length": a.length,
        "quick": a.quick,
        "in_process_64": reference,
        "phases": phases,
        "soak": soaked,
        "server_exit_code_on_sigterm": code,
    }
    if 64 in by:
        report["ratio_64_clients_vs_in_process_engine"] = by[64]["chars_per_s"] / reference["engine_chars_per_s"]
        report["ratio_64_clients_vs_numpy_loop"] = by[64]["chars_per_s"] / reference["numpy_loop_chars_per_s"]
        report["ratio_64_clients_per_cpu_vs_engine"] = (
            by[64]["chars_per_server_cpu_s"] / reference["engine_chars_per_cpu_s"]
        )
    print(
        f"in-process, 64 streams × {a.length} (mean of before/after the load): engine "
        f"{reference['engine_chars_per_s']:,.0f} chars/s ({before['engine_chars_per_s']:,.0f} / "
        f"{after['engine_chars_per_s']:,.0f}), {reference['engine_chars_per_cpu_s']:,.0f} chars per CPU-second; "
        f"plain NumPy loop {reference['numpy_loop_chars_per_s']:,.0f} chars/s"
    )
    print(
        f"{'clients':>7} {'requests':>8} {'failed':>6} {'chars/s':>10} {'ttfc p50':>9} {'ttfc p99':>9} "
        f"{'server chars/CPU-s':>19} {'client CPU':>10}"
    )
    for p in phases:
        fmt = lambda v: "-" if v is None else f"{v:.0f} ms"  # noqa: E731
        print(
            f"{p['clients']:>7} {p['requests']:>8} {p['failed']:>6} {p['chars_per_s']:>10,.0f} "
            f"{fmt(p['ttfc_ms_p50']):>9} {fmt(p['ttfc_ms_p99']):>9} {p['chars_per_server_cpu_s']:>19,.0f} "
            f"{p['load_generator_cpu_s'] / p['seconds']:>9.0%}"
        )
    if 64 in by:
        print(
            f"64 clients / in-process engine: {report['ratio_64_clients_vs_in_process_engine']:.2f}× in chars/s, "
            f"{report['ratio_64_clients_per_cpu_vs_engine']:.2f}× in chars per CPU-second;  / plain NumPy loop: "
            f"{report['ratio_64_clients_vs_numpy_loop']:.2f}×"
        )
    print(
        f"soak {a.soak_seconds:.0f} s, 8 clients: {soaked['requests']} requests, {soaked['failed']} failed; server "
        f"RSS {soaked['rss_mb_start']:.0f} → {soaked['rss_mb_end']:.0f} MB (max {soaked['rss_mb_max']:.0f}); "
        f"exit code after SIGTERM {code}"
    )
    save_json(out, report)


if __name__ == "__main__":
    main()
