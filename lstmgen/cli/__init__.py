"""The `lstmgen` command line: click commands and terminal output over the Python API."""

from lstmgen.cli.main import cli, main

__all__ = ["cli", "main"]
