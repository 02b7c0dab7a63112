"""The `lstmgen` command: the click group with every command registered. Each command parses its options, calls the
library and prints; heavy imports happen inside commands, so `lstmgen --help` stays fast."""

from lstmgen.cli import estimate, runs, sample, serve, train  # noqa: F401  (importing a module registers its commands)
from lstmgen.cli.app import cli, main

__all__ = ["cli", "main"]
