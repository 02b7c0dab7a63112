"""Builtin corpora usable as `builtin:NAME` wherever a SOURCE is accepted; all work offline."""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import re
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from lstmgen.data import reber
from lstmgen.errors import DataError
from lstmgen.util.atomic import write_text
from lstmgen.util.output import current

REBER_LINES = 20_000  # ~260 KB
REBER_SEED = 0
PYDOCS_VERSION = 1  # bump when the pydocs extraction rules change (invalidates caches)
PYDOCS_MAX_CHARS = 2_000_000

BUILTINS = {
    "reber": f"{REBER_LINES:,} embedded Reber grammar strings, one per line (about 260 KB)",
    "pydocs": "English docstrings of the Python standard library (about 1.4 MB, built offline)",
}

# Directories of the standard library that are not English prose about the library.
_SKIP_DIRS = {
    "test",
    "tests",
    "idlelib",
    "site-packages",
    "dist-packages",
    "lib2to3",
    "__pycache__",
    "turtledemo",
    "pydoc_data",
    "encodings",
    "ensurepip",
    "lib-dynload",
}
_MIN_CHARS = 80
_PROSE = re.compile(r"[A-Za-z\s.,;:'\"()-]")


def names() -> list[str]:
    return sorted(BUILTINS)


def builtin_text(name: str) -> str:
    """The text of builtin corpus `name`; unknown names are a DataError listing the available ones."""
    if name == "reber":
        return reber.corpus(n=REBER_LINES, seed=REBER_SEED)
    if name == "pydocs":
        return pydocs_text()
    available = ", ".join(f"builtin:{n}" for n in names())
    raise DataError(f"unknown builtin corpus {name!r}; available: {available}")


# -- pydocs -------------------------------------------------------------------------------------------------------


def _docstrings(tree: ast.AST) -> Iterator[str]:
    """Docstrings of the module, classes and functions, in source order."""
    if isinstance(tree, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        doc = ast.get_docstring(tree, clean=False)
        if doc:
            yield inspect.cleandoc(doc)
    for child in ast.iter_child_nodes(tree):
        yield from _docstrings(child)


def _is_prose(doc: str) -> bool:
    if len(doc) < _MIN_CHARS or len(doc.split()) < 8:
        return False
    if sum(ord(c) > 127 for c in doc) > 2:
        return False
    return len(_PROSE.findall(doc)) / len(doc) >= 0.85


def _stdlib_files(stdlib: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, fnames in os.walk(stdlib):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith((".", "test", "config-"))]
        files += [Path(root, f) for f in fnames if f.endswith(".py") and not f.startswith(("test_", "_sysconfigdata"))]
    return sorted(files, key=lambda p: p.relative_to(stdlib).parts)


def build_pydocs(stdlib: str | os.PathLike | None = None, max_chars: int = PYDOCS_MAX_CHARS) -> str:
    """Concatenate the cleaned docstrings of the standard library's sources, parsed with `ast` (nothing is imported)."""
    stdlib = Path(stdlib or sysconfig.get_paths()["stdlib"])
    seen: set[str] = set()
    out: list[str] = []
    total = 0
    files = _stdlib_files(stdlib)
    with current().bar(total=len(files), desc="builtin:pydocs (once)", unit="file") as bar:
        for path in files:
            bar.update(1)
            try:
                tree = ast.parse(path.read_bytes(), filename=str(path))
            except (SyntaxError, ValueError, OSError, RecursionError):
                continue
            for doc in _docstrings(tree):
                doc = doc.strip()
                if doc in seen or not _is_prose(doc):
                    continue
                seen.add(doc)
                out.append(doc + "\n\n")
                total += len(out[-1])
                if total >= max_chars:
                    return "".join(out)
    return "".join(out)


def _pydocs_cache_file() -> Path:
    from lstmgen.data.download import cache_root

    stdlib = sysconfig.get_paths()["stdlib"]
    key = hashlib.sha256(f"{stdlib}|{sys.version}|{PYDOCS_VERSION}".encode()).hexdigest()[:16]
    return cache_root() / "builtin" / f"pydocs-py{sys.version_info[0]}.{sys.version_info[1]}-{key}.txt"


def pydocs_text() -> str:
    """The pydocs corpus, built once and cached (a cache that cannot be written is silently skipped)."""
    cache = _pydocs_cache_file()
    try:
        return cache.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    text = build_pydocs()
    if not text:
        raise DataError("builtin:pydocs found no standard-library sources to read; use another SOURCE")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_text(cache, text)
    except OSError:
        pass
    return text
