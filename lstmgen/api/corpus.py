"""`lstmgen.prepare`: text → a prepared corpus (ids, vocabulary, split), and the `Corpus` handle it returns."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lstmgen.util.output import Output, using


@dataclass(frozen=True)
class Corpus:
    """A prepared corpus on disk: pass it (or its `path`) to `lstmgen.train`.

    >>> corpus = lstmgen.prepare("book.txt")              # doctest: +SKIP
    >>> corpus.size, len(corpus.chars), corpus.path       # doctest: +SKIP
    (1115394, 65, PosixPath('prepared/book'))
    """

    path: Path
    chars: str  # the vocabulary, in id order
    size: int  # characters
    train_size: int
    val_size: int
    sha256: str
    notes: tuple[str, ...] = ()

    @classmethod
    def open(cls, path: str | os.PathLike) -> Corpus:
        """The prepared directory at `path` (written by `prepare`), checked against its recorded sha256."""
        from lstmgen.data.prepared import load_prepared

        return cls._of(load_prepared(path))

    @classmethod
    def _of(cls, prepared) -> Corpus:
        m = prepared.meta
        return cls(
            Path(prepared.path),
            "".join(prepared.vocab.chars),
            int(m["n_chars"]),
            int(m["n_train"]),
            int(m["n_val"]),
            str(m["sha256"]),
            tuple(prepared.notes),
        )

    def text(self) -> str:
        """The whole text again, decoded from the ids."""
        from lstmgen.data.prepared import load_prepared

        data = load_prepared(self.path, verify=False)
        return data.vocab.decode(data.ids.tolist())

    def summary(self) -> str:
        """What `lstmgen prepare` prints."""
        from lstmgen.data.prepared import load_prepared

        data = load_prepared(self.path, verify=False)
        data.notes = list(self.notes)
        return data.summary()


def prepare(
    *sources: str | os.PathLike,
    out: str | os.PathLike | None = None,
    encoding: str | None = None,
    lowercase: bool = False,
    val_fraction: float = 0.1,
    force: bool = False,
    progress: bool | None = True,
    verbose: int = 0,
) -> Corpus:
    """Read text sources into a prepared corpus (written to `out`, default ./prepared/NAME) and return its handle.

    Sources are text files, directories, http(s) URLs, `builtin:NAME` (builtin:pydocs, builtin:reber) or a catalog
    name (tinyshakespeare, …): whatever `lstmgen prepare` takes. Raises `lstmgen.DataError` for what cannot be read.

    >>> corpus = lstmgen.prepare("builtin:reber", out="prepared/reber")   # doctest: +SKIP
    >>> corpus.chars                                                      # doctest: +SKIP
    '\\nBEPSTVX'
    """
    from lstmgen.data.decode import check_encoding
    from lstmgen.data.prepare import prepare as run_prepare

    check_encoding(encoding)
    with using(Output(verbose=verbose, progress=progress)):
        prepared = run_prepare(
            [os.fspath(s) for s in sources],
            out,
            encoding=encoding,
            lowercase=lowercase,
            val_fraction=val_fraction,
            force=force,
        )
    return Corpus._of(prepared)
