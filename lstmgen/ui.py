"""Terminal output shared by every command: -q/-v, notes on stderr, and progress bars (tqdm, on stderr).

Bars follow tqdm's `disable=None` rule (shown only when stderr is a terminal) unless `--progress` or
`--no-progress` forces them; `-q` turns them off. Nothing heavy is imported here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass
class Settings:
    quiet: bool = False
    verbose: bool = False
    progress: bool | None = None  # None: only when stderr is a terminal


SETTINGS = Settings()


def configure(quiet: bool = False, verbose: bool = False, progress: bool | None = None) -> None:
    SETTINGS.quiet, SETTINGS.verbose, SETTINGS.progress = quiet, verbose, progress


def say(message: str) -> None:
    """A note on stderr, unless -q."""
    if not SETTINGS.quiet:
        print(message, file=sys.stderr, flush=True)


def detail(message: str) -> None:
    """Extra detail on stderr, only with -v."""
    if SETTINGS.verbose and not SETTINGS.quiet:
        print(message, file=sys.stderr, flush=True)


def bar_disabled() -> bool | None:
    """tqdm's `disable` value for the current settings."""
    if SETTINGS.quiet:
        return True
    if SETTINGS.progress is None:
        return None
    return not SETTINGS.progress


def bar(total: int | float | None = None, desc: str = "", unit: str = "it", **kwargs):
    """A tqdm bar on stderr that disappears when done; unless forced with --progress it appears only after half a
    second, so short steps stay quiet."""
    from tqdm import tqdm

    kwargs.setdefault("delay", 0.0 if SETTINGS.progress else 0.5)
    kwargs.setdefault("leave", False)
    kwargs.setdefault("disable", bar_disabled())
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, **kwargs)
