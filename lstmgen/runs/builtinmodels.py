"""The models shipped with lstmgen (`builtin:english`): one run directory each under lstmgen/models/.

>>> builtin_model_names()
['english']
"""

from __future__ import annotations

from pathlib import Path

from lstmgen.errors import RunError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"  # one run directory per built-in model


def builtin_model_names() -> list[str]:
    """The built-in models, e.g. ['english']."""
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "run.json").is_file())


def builtin_model_dir(name: str) -> Path:
    """The run directory of built-in model `name`; an unknown name is a RunError listing the known ones."""
    if name in builtin_model_names():
        return MODELS_DIR / name
    known = ", ".join(f"builtin:{n}" for n in builtin_model_names()) or "none (this installation ships none)"
    raise RunError(f"unknown built-in model 'builtin:{name}'; available: {known}")
