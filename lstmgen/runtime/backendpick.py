"""The Keras backend a training command uses when the user named none: picked before Keras is imported.

Keras reads KERAS_BACKEND once, at import. On a CPU, PyTorch's fused LSTM (lstmgen/fused.py) trains lstmgen's
model faster than TensorFlow's (bench/peer_torch.py), so `train` and `estimate` use the torch backend when torch is
installed, no NVIDIA GPU is present (there Keras uses cuDNN on every backend) and nothing else was asked for:
KERAS_BACKEND, or a backend other than the default in ~/.keras/keras.json. Nothing heavy is imported here.

    >>> pick_for_training()     # doctest: +SKIP
    'backend torch (auto: torch is installed and its fused CPU LSTM trains fastest; KERAS_BACKEND=tensorflow ...)'
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path


def _configured_backend() -> str | None:
    """A backend the user chose in keras.json ('tensorflow' is what Keras writes there by itself, so not a choice)."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        chosen = json.loads((home / "keras.json").read_text(encoding="utf-8")).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return chosen if isinstance(chosen, str) and chosen != "tensorflow" else None


def _has_nvidia_gpu() -> bool:
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/gpus").is_dir()


def pick_for_training() -> str | None:
    """Set KERAS_BACKEND=torch where that trains fastest and the user chose nothing; returns what was picked and
    why (None: nothing was changed)."""
    if os.environ.get("KERAS_BACKEND") or "keras" in sys.modules or _configured_backend():
        return None
    if importlib.util.find_spec("torch") is None or _has_nvidia_gpu():
        return None
    os.environ["KERAS_BACKEND"] = "torch"
    return (
        "backend torch (auto: torch is installed and its fused CPU LSTM trains fastest here; "
        "KERAS_BACKEND=tensorflow to choose another)"
    )
