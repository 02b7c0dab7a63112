"""Terminal output of the command line: -q/-v/--progress become the library's `Output` for one command.

By default a command shows notes on stderr and progress bars when stderr is a terminal; -q shows only results and
errors; -v adds detail; --progress/--no-progress force bars on or off.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from lstmgen.util.output import Output, current, using


def output_for(quiet: bool = False, verbose: bool = False, progress: bool | None = None) -> Output:
    """The Output a command runs under for these flags."""
    return Output(verbose=0 if quiet else 2 if verbose else 1, progress=False if quiet else progress)


def scoped(quiet: bool = False, verbose: bool = False, progress: bool | None = None) -> AbstractContextManager:
    """Run the code inside the block with the output these flags ask for."""
    return using(output_for(quiet, verbose, progress))


def quiet() -> bool:
    """Whether -q was given (results only)."""
    return current().verbose == 0


def say(message: str) -> None:
    """A note on stderr, unless -q."""
    current().say(message)


def detail(message: str) -> None:
    """Extra detail on stderr, only with -v."""
    current().detail(message)
