"""The data and vocabulary a run was trained on, found again from its run.json (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from lstmgen.corpus import Prepared, load_prepared, prepared_for_training
from lstmgen.errors import UserError
from lstmgen.vocab import Vocab


def run_data(run_path: Path, info: dict, *, val_fraction: float, lowercase: bool, fix: str = "") -> Prepared:
    """The prepared data a run was trained on: its recorded prepared directory, else its source prepared anew.

    `info` is the run's run.json. A source that is gone, or whose text changed, is a UserError that names both places
    and ends with `fix` (default: how to continue training).
    """
    prepared, source = info.get("prepared"), info.get("source")
    try:
        data = load_prepared(prepared)
    except (UserError, TypeError):
        try:
            data = prepared_for_training(str(source), val_fraction=val_fraction, lowercase=lowercase)
        except UserError:
            raise UserError(f"the training data of run '{run_path}' is gone: its prepared copy '{prepared}' was "
                            f"removed (cache cleared?) and its source '{source}' cannot be read; "
                            + (fix or f"restore the source, or give the same text again: lstmgen train TEXT -o "
                                      f"{run_path}")) from None
    if data.meta.get("sha256") != info.get("data_sha256"):
        raise UserError(f"the text of run '{run_path}' changed since it was trained (source '{source}'); "
                        + (fix or "restore it, or start a new run on the new text with -o NEW_DIR"))
    return data


def run_vocab(run_path: Path, info: dict, warn: Callable[[str], None]) -> Vocab:
    """The run's vocab.json; when it is missing or damaged, the same vocabulary from the run's prepared data (the
    data's sha256 is the one the run recorded, so the characters and their ids are the run's), with a note."""
    try:
        return Vocab.load(run_path / "vocab.json")
    except UserError as e:
        problem = str(e).split("; ")[0]
    prepared = info.get("prepared")
    try:
        data = load_prepared(prepared, verify=False)
    except (UserError, TypeError):
        data = None
    if data is not None and data.meta.get("sha256") == info.get("data_sha256"):
        warn(f"run '{run_path}': {problem}; using the vocabulary of its prepared data '{prepared}' "
             f"(`lstmgen train {run_path}` writes vocab.json back)")
        return data.vocab
    raise UserError(f"run '{run_path}': {problem}, and its prepared data '{prepared}' is gone too; restore "
                    f"vocab.json from a backup, or run `lstmgen train {run_path}` with its source text available "
                    "(it writes vocab.json back)")
