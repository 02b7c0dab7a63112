"""The `lstmgen` click group: one-line errors and exit codes, the options every command shares, JSON output."""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Literal, NoReturn, overload

import click

from lstmgen import __version__
from lstmgen.cli import ui
from lstmgen.config import CHOICES, Config, _pytype
from lstmgen.confighelp import HELP
from lstmgen.errors import LstmgenError

EXIT_CODES = """Exit codes: 0 success, 1 a problem with input, files or options (one line on stderr says
what and how to fix it), 2 command-line usage error, 3 training interrupted (a checkpoint was saved;
run the same train command again to resume), 4 internal error (LSTMGEN_DEBUG=1 shows the traceback),
130 aborted by Ctrl-C outside training."""
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def output_options(func):
    """-q/--quiet, -v/--verbose and --progress/--no-progress for a command: the Output it runs under."""

    @click.option(
        "--progress/--no-progress",
        default=None,
        help="force progress bars on stderr on or off [default: on when stderr is a terminal]",
    )
    @click.option("-v", "--verbose", is_flag=True, help="extra detail on stderr (choices made, timings)")
    @click.option("-q", "--quiet", is_flag=True, help="print only results and errors: no notes, no progress bars")
    @functools.wraps(func)
    def wrapper(*args, quiet, verbose, progress, **kwargs):
        if quiet and verbose:
            raise click.UsageError("-q/--quiet and -v/--verbose contradict each other; give one")
        with ui.scoped(quiet=quiet, verbose=verbose, progress=progress):
            return func(*args, **kwargs)

    return wrapper


def print_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def config_options(func):
    """Add a `--key-name` option for every Config field (None = not given, so config files still apply)."""
    for f in reversed(fields(Config)):
        name = "--" + f.name.replace("_", "-")
        t = _pytype(f.type)
        help_text = HELP.get(f.name, "") + f" [default: {f.default}]"
        if t is bool:
            option = click.option(f"{name}/--no-{f.name.replace('_', '-')}", f.name, default=None, help=help_text)
        elif f.name == "init_from":  # `--from` reads best; `--init-from` matches the config key
            option = click.option("--from", "--init-from", "init_from", default=None, metavar="MODEL", help=help_text)
        elif f.name in CHOICES:
            option = click.option(name, f.name, type=click.Choice(CHOICES[f.name]), default=None, help=help_text)
        else:
            option = click.option(
                name,
                f.name,
                type={int: click.INT, float: click.FLOAT}.get(t, click.STRING),
                default=None,
                help=help_text,
                metavar=t.__name__.upper(),
            )
        func = option(func)
    return func


def pop_overrides(kwargs: dict) -> dict:
    values = {f.name: kwargs.pop(f.name, None) for f in fields(Config)}
    return {k: v for k, v in values.items() if v is not None}


def say(message: str) -> None:
    """A line on stderr; callers decide what -q suppresses (train's result line and resume hint always show)."""
    click.echo(message, err=True)


def one_line(message: str) -> str:
    """An error is one line on stderr even when a file name or value in it holds a line break."""
    return " ".join(message.splitlines())


class Lstmgen(click.Group):
    """A click group whose errors are one line on stderr, never a traceback."""

    @overload
    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: Literal[True] = True,
        **extra: Any,
    ) -> NoReturn: ...

    @overload
    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = ...,
        **extra: Any,
    ) -> Any: ...

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            super().main(args, prog_name or "lstmgen", complete_var, standalone_mode=False, **extra)
        except LstmgenError as e:
            click.echo(f"lstmgen: error: {one_line(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "lstmgen"
            click.echo(f"lstmgen: error: {one_line(e.format_message())} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("lstmgen: aborted", err=True)
            sys.exit(130)
        except click.ClickException as e:
            click.echo(f"lstmgen: error: {one_line(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("lstmgen: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:  # e.g. `lstmgen generate | head`
            sys.stderr.close()
            sys.exit(0)
        except Exception as e:  # a bug: keep the one-line contract, show the traceback on request
            if os.environ.get("LSTMGEN_DEBUG"):
                traceback.print_exc()
            click.echo(
                f"lstmgen: internal error: {type(e).__name__}: {e} (set LSTMGEN_DEBUG=1 for a traceback)", err=True
            )
            sys.exit(4)
        sys.exit(0)


@click.group(cls=Lstmgen, context_settings=CONTEXT, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="lstmgen")
def cli():
    """Character-level LSTM text generation on Keras 3.

    \b
      lstmgen prepare corpus.txt            # text → id stream + vocabulary
      lstmgen train corpus.txt              # train (prepares raw text implicitly)
      lstmgen generate --temperature 0.7    # sample from the latest run
      lstmgen eval runs/corpus-…            # validation loss; --generate 8 for novelty
      lstmgen runs                          # list runs; lstmgen info RUN for one
      lstmgen estimate --log train.log      # when will training finish?

    \b
    Every command takes -q (quiet), -v (verbose), --json where it prints results, and -h.
    Shell completion (bash; zsh_source, fish_source likewise):
      eval "$(_LSTMGEN_COMPLETE=bash_source lstmgen)"
    """


def main(argv=None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="lstmgen")
