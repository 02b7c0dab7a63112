"""What the library shows while it works: notes, detail and progress bars, chosen by the caller, off by default.

The public functions take `verbose` and `progress` arguments and set them for the duration of the call with
`using(Output(...))`; code deep in the pipeline reads them with `current()`. The setting is a context variable, so
two notebooks' threads (or a server's requests) each see their own, and nothing is left set after a call returns.

    >>> from lstmgen.util.output import Output, current, using
    >>> with using(Output(verbose=1, write=print)):
    ...     current().say("reading book.txt")
    reading book.txt
    >>> current().say("not shown")        # the default prints nothing
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Output:
    """verbose: 0 nothing, 1 notes (what the CLI shows by default), 2 detail too. progress: True shows bars,
    False hides them, None shows them only on a terminal or in a notebook. write: where notes go."""

    verbose: int = 0
    progress: bool | None = False
    write: Callable[[str], None] = field(default=_stderr, repr=False)

    def say(self, message: str) -> None:
        """A note (shown from verbose 1)."""
        if self.verbose >= 1:
            self.write(message)

    def detail(self, message: str) -> None:
        """Detail: choices made, timings (shown from verbose 2)."""
        if self.verbose >= 2:
            self.write(message)

    @property
    def bars_disabled(self) -> bool | None:
        """tqdm's `disable` value: True off, False on, None only when the output is a terminal."""
        return None if self.progress is None else not self.progress

    def bar(self, total: int | float | None = None, desc: str = "", unit: str = "it", **kwargs: Any) -> Any:
        """A tqdm bar (a widget in a notebook, text on stderr in a terminal) that disappears when done; unless
        progress is forced on, it appears only after half a second, so short steps stay quiet."""
        from tqdm.auto import tqdm

        kwargs.setdefault("delay", 0.0 if self.progress else 0.5)
        kwargs.setdefault("leave", False)
        kwargs.setdefault("disable", self.bars_disabled)
        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, **kwargs)


SILENT = Output()
_CURRENT: ContextVar[Output] = ContextVar("lstmgen_output", default=SILENT)


def current() -> Output:
    """The output settings of the call in progress (silent outside any)."""
    return _CURRENT.get()


@contextmanager
def using(output: Output) -> Iterator[Output]:
    """Set `output` for the code inside the block (and restore the previous one after it)."""
    token = _CURRENT.set(output)
    try:
        yield output
    finally:
        _CURRENT.reset(token)
