"""The data and vocabulary a run was trained on, found again from its run.json (no TensorFlow)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from lstmgen.data.prepare import prepared_for_training
from lstmgen.data.prepared import Prepared, load_prepared
from lstmgen.data.vocab import Vocab, run_vocab_for
from lstmgen.errors import LstmgenError, RunError


def with_vocab(data: Prepared, vocab: Vocab) -> Prepared:
    """`data` with its ids re-expressed in `vocab`, a superset of its own vocabulary (held in memory)."""
    if vocab == data.vocab:
        return data
    lut = np.array([vocab.index[c] for c in data.vocab.chars], dtype=vocab.dtype)
    meta = {**data.meta, "vocab_size": vocab.size, "dtype": vocab.dtype.name}
    return Prepared(data.path, meta, vocab, lut[np.asarray(data.ids)], data.notes)


def in_run_vocab(data: Prepared, info: dict) -> Prepared:
    """The run's data in the run's vocabulary: a fine-tuning run with `init_vocab: union` also has its base's
    characters (run.json keeps them), so its ids differ from the prepared corpus's."""
    base = info.get("base")
    if not isinstance(base, dict) or base.get("vocab") != "union" or not isinstance(base.get("chars"), str):
        return data
    return with_vocab(data, run_vocab_for(list(base["chars"]), data.vocab, "union"))


def load_recorded(prepared: object, *, verify: bool = True) -> Prepared | None:
    """The prepared directory run.json records (its "prepared" value), or None when it records none or that
    directory cannot be loaded (removed, damaged)."""
    if not isinstance(prepared, str):
        return None
    try:
        return load_prepared(prepared, verify=verify)
    except (LstmgenError, TypeError):
        return None


def run_data(
    run_path: Path, info: dict, *, val_fraction: float, lowercase: bool, text: str | None = None, fix: str = ""
) -> Prepared:
    """The prepared data a run was trained on, in the run's vocabulary: `train` and `eval` both load it here.

    `info` is the run's run.json. Without `text`: its recorded prepared directory, else its source prepared anew;
    a source that is gone, or whose text changed, is a RunError that names both places and ends with `fix` (default:
    how to continue training). With `text` (the user gave the run's text again, e.g. TEXT -o RUN): that text,
    prepared, which must be the one the run recorded.

    Example: `run_data(run.path, run.info(), val_fraction=cfg.val_fraction, lowercase=cfg.lowercase)`.
    """
    if text is not None:
        given = prepared_for_training(text, val_fraction=val_fraction, lowercase=lowercase)
        if given.meta.get("sha256") != info.get("data_sha256"):
            raise RunError(f"'{run_path}' was trained on other data; choose a new run directory with -o")
        return in_run_vocab(given, info)
    prepared, source = info.get("prepared"), info.get("source")
    data = load_recorded(prepared)
    if data is None:
        try:
            data = prepared_for_training(str(source), val_fraction=val_fraction, lowercase=lowercase)
        except LstmgenError:
            raise RunError(
                f"the training data of run '{run_path}' is gone: its prepared copy '{prepared}' was "
                f"removed (cache cleared?) and its source '{source}' cannot be read; "
                + (fix or f"restore the source, or give the same text again: lstmgen train TEXT -o {run_path}")
            ) from None
    if data.meta.get("sha256") != info.get("data_sha256"):
        raise RunError(
            f"the text of run '{run_path}' changed since it was trained (source '{source}'); "
            + (fix or "restore it, or start a new run on the new text with -o NEW_DIR")
        )
    return in_run_vocab(data, info)


def run_vocab(run_path: Path, info: dict, warn: Callable[[str], None]) -> Vocab:
    """The run's vocab.json; when it is missing or damaged, the same vocabulary from the run's prepared data (the
    data's sha256 is the one the run recorded, so the characters and their ids are the run's), with a note."""
    try:
        return Vocab.load(run_path / "vocab.json")
    except LstmgenError as e:
        problem = str(e).split("; ")[0]
    prepared = info.get("prepared")
    data = load_recorded(prepared, verify=False)
    if data is not None and data.meta.get("sha256") == info.get("data_sha256"):
        warn(
            f"run '{run_path}': {problem}; using the vocabulary of its prepared data '{prepared}' "
            f"(`lstmgen train {run_path}` writes vocab.json back)"
        )
        return in_run_vocab(data, info).vocab
    raise RunError(
        f"run '{run_path}': {problem}, and its prepared data '{prepared}' is gone too; restore "
        f"vocab.json from a backup, or run `lstmgen train {run_path}` with its source text available "
        "(it writes vocab.json back)"
    )
