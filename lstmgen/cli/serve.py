"""The `lstmgen serve` command: options, the safe-bind rules, and uvicorn with a SIGTERM that drains and exits 0."""

from __future__ import annotations

import ipaddress
import signal
import socket

import click

from lstmgen.cli import ui
from lstmgen.cli.app import EXIT_CODES, cli, output_options
from lstmgen.errors import LstmgenError
from lstmgen.serving.params import Limits

LOCAL_HOSTS = {"localhost"}


def is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int) -> None:
    """Bind the address once ourselves (as uvicorn will, SO_REUSEADDR on) so a busy port is one clear line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise LstmgenError(f"--host {host} is not an address or name this machine can resolve ({e.strerror})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            raise LstmgenError(
                f"cannot listen on {host}:{port}: {e.strerror}; pick another --port (or stop what uses it)"
            ) from None


def import_stack():
    """starlette and uvicorn, or one line saying how to install them."""
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as e:
        raise LstmgenError(
            f"lstmgen serve needs the web server packages ({e.name} is not installed); install them with: "
            "pip install 'lstmgen[serve]'"
        ) from None
    return uvicorn


@click.command(epilog=EXIT_CODES)
@click.argument("targets", nargs=-1, type=click.Path())
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="address to listen on; any non-loopback address needs --token (or --insecure)",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port")
@click.option(
    "--token", envvar="LSTMGEN_TOKEN", default=None, help="bearer token every API call must send (env LSTMGEN_TOKEN)"
)
@click.option("--insecure", is_flag=True, help="allow a non-loopback --host without --token")
@click.option(
    "--which",
    type=click.Choice(["best", "latest"]),
    default="best",
    show_default=True,
    help="which model of each run directory to serve",
)
@click.option(
    "--max-length",
    type=click.IntRange(1),
    default=Limits.max_length,
    show_default=True,
    help="most characters per sample a request may ask for",
)
@click.option(
    "--max-samples",
    type=click.IntRange(1),
    default=Limits.max_samples,
    show_default=True,
    help="most samples per request",
)
@click.option(
    "--max-streams",
    type=click.IntRange(1),
    default=Limits.max_streams,
    show_default=True,
    help="most samples generated at once, all clients together (429 above)",
)
@click.option(
    "--max-body",
    type=click.IntRange(256),
    default=Limits.max_body,
    show_default=True,
    help="largest request body in bytes (413 above)",
)
@output_options
def serve(targets, host, port, token, insecure, which, max_length, max_samples, max_streams, max_body):
    """Serve generation over HTTP: a JSON/streaming API and a web page.

    TARGETS are run directories or .keras models inside them (default: the latest run under runs/); each is
    one model, named after its run. All requests in flight share one batched step. SIGTERM stops
    accepting, lets running requests finish and exits 0 (Ctrl-C does the same and exits 130).

    \b
    Examples:
      lstmgen serve runs/book                      # http://127.0.0.1:8000/
      curl -s localhost:8000/v1/generate -d '{"prime": "The ", "length": 200}'
      lstmgen serve runs/a runs/b --host 0.0.0.0 --token "$(openssl rand -hex 16)"
    """
    uvicorn = import_stack()
    if not is_local(host) and not token and not insecure:
        raise LstmgenError(
            f"--host {host} would let anyone on the network use this server; give --token TOKEN "
            "(clients send 'Authorization: Bearer TOKEN'), or --insecure to serve without one"
        )
    check_bind(host, port)
    from lstmgen.serving.app import app

    limits = Limits(max_length=max_length, max_samples=max_samples, max_streams=max_streams, max_body=max_body)
    web = app(list(targets), token=token, limits=limits, which=which, warn=ui.say)
    names = ", ".join(web.state.engine.models)
    config = uvicorn.Config(
        web, host=host, port=port, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=None
    )
    server = uvicorn.Server(config)
    # uvicorn drains on SIGTERM, then re-raises the signal with the handler it found: a no-op one lets the
    # command return normally (exit 0) once in-flight requests are done.
    signal.signal(signal.SIGTERM, lambda *_: None)
    ui.say(
        f"serving {names} at http://{host if ':' not in host else f'[{host}]'}:{port}/ "
        f"(Ctrl-C or SIGTERM stops after running requests finish)"
    )
    try:
        server.run()
    except SystemExit:  # uvicorn's start-up failed (it logged why)
        raise LstmgenError(f"could not serve on {host}:{port}; see the line above") from None
    ui.say(f"stopped; served {web.state.server.served} requests")


cli.add_command(serve)
