"""`lstmgen serve`: the generation engine as an HTTP API and a web page (Starlette; uvicorn runs it).

    from lstmgen.serving.app import app
    asgi = app(["runs/book"])                # any ASGI server, or httpx.ASGITransport(asgi) in tests

Endpoints: POST /v1/generate (JSON, or server-sent events with "stream": true), GET /v1/models, GET /healthz,
GET /openapi.json, GET / (the page). Every error is a JSON object {"error": "one line"} with a 4xx status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from lstmgen.generation.engine import Busy, Engine, Stream
from lstmgen.serving.params import ApiError, Limits, openapi, parse_body

DISCONNECT_POLL_S = 0.25  # how often a non-streaming request checks that its client is still there
# A stream sends at most one chunk per interval: with 64 streams a chunk per character would be 64 sends per step,
# more work for the event loop (and the clients) than the step itself. 20 ms is smooth to read; with more streams
# in flight the interval grows (the sends per second of the whole server stay about the same), up to 0.2 s.
FLUSH_INTERVAL_S = 0.02
FLUSH_STREAMS = 16  # streams in flight up to which the interval stays FLUSH_INTERVAL_S
MAX_FLUSH_INTERVAL_S = 0.2


def flush_interval(active: int) -> float:
    """The chunk interval for a request that starts while `active` streams are in flight."""
    return min(MAX_FLUSH_INTERVAL_S, FLUSH_INTERVAL_S * max(1.0, active / FLUSH_STREAMS))


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def merged(streams: list[Stream], interval: float = FLUSH_INTERVAL_S):
    """(sample index, text) chunks of several streams as they come, one wake-up event for all of them, and at most
    one chunk per stream every `interval` seconds (the first as soon as it exists)."""
    event = asyncio.Event()
    for s in streams:
        s._async = event  # set before the first take, so no wake-up is lost
    last = None
    while True:
        if last is not None and (wait := last + interval - time.monotonic()) > 0:
            await asyncio.sleep(wait)  # let characters gather: one send instead of one per character
        event.clear()
        done, sent = True, False
        for s in streams:
            text, finished = s.take()
            if text:
                sent = True
                yield s.index, text
            done &= finished
        if done:
            return
        if sent:
            last = time.monotonic()
        await event.wait()


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, f"the request body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"the request body is over {limit} bytes")
    return bytes(body)


class Server:
    """The routes over one Engine, with the token check and the limits."""

    def __init__(self, engine: Engine, token: str | None, limits: Limits):
        self.engine, self.token, self.limits = engine, token, limits
        self.started = time.time()
        self.served = 0

    def authorized(self, request: Request) -> bool:
        if not self.token:
            return True
        got = request.headers.get("authorization", "")
        return hmac.compare_digest(got.encode(), f"Bearer {self.token}".encode())

    def unauthorized(self) -> JSONResponse:
        return error(
            401,
            "missing or wrong bearer token; send 'Authorization: Bearer TOKEN' (the server's --token)",
            {"WWW-Authenticate": "Bearer"},
        )

    async def models(self, request: Request) -> Response:
        if not self.authorized(request):
            return self.unauthorized()
        return JSONResponse({"models": [m.info for m in self.engine.models.values()]})

    async def healthz(self, request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "models": len(self.engine.models),
                "streams": self.engine.active(),
                "served": self.served,
                "uptime_s": round(time.time() - self.started, 1),
            }
        )

    async def generate(self, request: Request) -> Response:
        if not self.authorized(request):
            return self.unauthorized()
        try:
            p = parse_body(await read_body(request, self.limits.max_body), self.limits, list(self.engine.models))
            model = self.engine.models[p.model]
            streams = self.engine.submit(
                p.prime, p.length, seed=p.seed, num_samples=p.num_samples, model=p.model, **p.sampling()
            )
        except ApiError as e:
            return error(e.status, e.message)
        except Busy as e:
            return error(429, str(e), {"Retry-After": "1"})
        self.served += 1
        used = model.vocab.decode(model.vocab.encode(p.prime, unknown="map").tolist())
        head = {"model": p.model, "prime": used}
        if p.stream or "text/event-stream" in request.headers.get("accept", ""):
            return StreamingResponse(
                self._events(streams, head),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        texts = [used] * len(streams)
        last_poll = time.monotonic()
        try:
            async for k, text in merged(streams, flush_interval(self.engine.active())):
                texts[k] += text
                if time.monotonic() - last_poll > DISCONNECT_POLL_S:
                    last_poll = time.monotonic()
                    if await request.is_disconnected():
                        return Response(status_code=499)
        finally:
            for s in streams:
                s.cancel()
        return JSONResponse({**head, "length": p.length, "seed": p.seed, "sampling": p.sampling(), "samples": texts})

    async def _events(self, streams: list[Stream], head: dict):
        """start, {sample, text} messages, done. Starlette cancels this when the client goes: `finally` stops
        the streams at once."""
        try:
            yield f"event: start\ndata: {json.dumps({**head, 'num_samples': len(streams)})}\n\n"
            async for k, text in merged(streams, flush_interval(self.engine.active())):
                yield f"data: {json.dumps({'sample': k, 'text': text})}\n\n"
            yield f"event: done\ndata: {json.dumps({'chars': [s.produced for s in streams]})}\n\n"
        finally:
            for s in streams:
                s.cancel()

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi(self.limits))

    async def page(self, request: Request) -> Response:
        return HTMLResponse(resources.files("lstmgen").joinpath("static/index.html").read_text(encoding="utf-8"))


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette types every handler's exception as Exception; this one is registered for HTTPException only
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, str(exc.detail))


async def _internal(request: Request, exc: Exception) -> Response:
    return error(500, f"internal error: {type(exc).__name__}")


def app(
    targets: Iterable[str | Path | None] = (),
    *,
    engine: Engine | None = None,
    token: str | None = None,
    limits: Limits | None = None,
    which: str = "best",
    warn=lambda m: None,
) -> Starlette:
    """The ASGI app serving `targets` (run directories or .keras files; none: the latest run), or a given Engine.

    The engine's thread starts and stops with the app's lifespan; an Engine passed in is left running."""
    limits = limits or Limits()
    own = engine is None
    engine = engine or Engine.load(list(targets), which, warn, max_streams=limits.max_streams)
    server = Server(engine, token, limits)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        engine.start()
        try:
            yield
        finally:
            if own:
                engine.stop()

    routes = [
        Route("/", server.page),
        Route("/healthz", server.healthz),
        Route("/openapi.json", server.openapi),
        Route("/v1/models", server.models),
        Route("/v1/generate", server.generate, methods=["POST"]),
    ]
    web = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_error, Exception: _internal}
    )
    web.state.engine, web.state.server = engine, server
    return web
