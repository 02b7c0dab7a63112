"""The error contract every bad input must meet, shared by the error tests.

One line on stderr that starts with "lstmgen: error: " and says what is wrong, the documented exit code, no
traceback, never "internal error", and nothing the user already had changed: every file under `untouched` has the
same bytes before and after, and no file or folder appears under `no_new`.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from click.testing import CliRunner

from lstmgen.cli.main import cli


def tree_hashes(*roots: str | os.PathLike) -> dict[str, str]:
    """sha256 of every file under the roots (a root may be a file), keyed by path; folders are listed as 'dir'."""
    out: dict[str, str] = {}
    for root in roots:
        root = Path(root)
        if root.is_file():
            out[str(root)] = hashlib.sha256(root.read_bytes()).hexdigest()
        elif root.is_dir():
            out[str(root)] = "dir"
            for dirpath, dirnames, filenames in os.walk(root):
                for d in dirnames:
                    out[os.path.join(dirpath, d)] = "dir"
                for f in filenames:
                    p = os.path.join(dirpath, f)
                    if os.path.isfile(p):
                        out[p] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    return out


def fails(args, match, code=1, input=None, one_line=True, untouched=(), no_new=(), env=None):
    """Run the CLI in-process; the error is the last stderr line (with one_line, the only one) and matches `match`.

    `untouched`: paths whose files must be byte-identical afterwards; `no_new`: folders in which nothing may
    appear (e.g. the parent of an -o folder that must not be created)."""
    before = tree_hashes(*untouched)
    listed = {str(d): sorted(os.listdir(d)) if os.path.isdir(d) else None for d in no_new}
    result = CliRunner().invoke(cli, args, input=input, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == code, (result.exit_code, result.output)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    assert lines and (len(lines) == 1 or not one_line), lines
    err = lines[-1]
    assert err.startswith("lstmgen: error: ") and re.search(match, err, re.I), err
    assert sum(line.startswith("lstmgen: error") for line in lines) == 1
    assert tree_hashes(*untouched) == before, "a file the user had was changed"
    for d, names in listed.items():
        now = sorted(os.listdir(d)) if os.path.isdir(d) else None
        assert now == names, f"{d}: {names} became {now}"
    return err
