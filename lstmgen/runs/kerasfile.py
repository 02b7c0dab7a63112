"""A `.keras` file's weights as a NumPy step model, read with h5py: no TensorFlow, no Keras, no code from the file.

A `.keras` file is a zip of `config.json` (the architecture), `metadata.json` and `model.weights.h5`. Keras stores
each layer's variables under an HDF5 group named after the layer's class (`layers/lstm_1/cell/vars/0`, …) whose
`vars` group carries the layer's own name as an attribute. The layers are matched to the config by that name and
every array's shape is checked against the shape the config implies; anything else is a RunError.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmgen.errors import LstmgenError, RunError

NOT_LSTMGEN = "is not an lstmgen model"


class _Mismatch(Exception):
    pass


def _layers(config: dict) -> tuple[dict, list[dict], dict]:
    """The embedding, LSTM and logits layer configs of an lstmgen model, in model order."""
    try:
        layers = [(layer["class_name"], layer["config"]) for layer in config["config"]["layers"]]
    except (KeyError, TypeError):
        raise _Mismatch("its config.json has no layer list") from None
    kinds = [k for k, _ in layers if k not in ("InputLayer", "Dropout")]
    if not kinds or kinds[0] != "Embedding" or kinds[-1] != "Dense" or set(kinds[1:-1]) != {"LSTM"}:
        raise _Mismatch(f"expected embedding → LSTM → logits layers, found {' → '.join(kinds) or 'none'}")
    body = [c for k, c in layers if k not in ("InputLayer", "Dropout")]
    emb, lstms, dense = body[0], body[1:-1], body[-1]
    if dense.get("name") != "logits" or emb.get("name") != "embedding":
        raise _Mismatch("its layers are not named embedding … logits")
    for c in lstms:
        if (c.get("activation"), c.get("recurrent_activation"), c.get("use_bias", True)) != ("tanh", "sigmoid", True):
            raise _Mismatch(f"LSTM layer {c.get('name')!r} is not a standard tanh/sigmoid LSTM with bias")
    if dense.get("activation", "linear") != "linear" or not dense.get("use_bias", True):
        raise _Mismatch("its logits layer is not a linear layer with bias")
    return emb, lstms, dense


def _groups_by_name(h5) -> dict:
    """layer name → the HDF5 group holding its `vars` (for an LSTM, its cell's vars)."""
    found = {}
    for group in h5["layers"].values():
        vars_ = group.get("vars")
        if vars_ is None or "name" not in vars_.attrs:
            continue
        name = vars_.attrs["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        cell = group.get("cell")
        found[name] = cell["vars"] if cell is not None and "vars" in cell else vars_
    return found


def _arrays(groups: dict, name: str, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    group = groups.get(name)
    if group is None:
        raise _Mismatch(f"its weights have no layer named {name!r}")
    if len(group) != len(shapes):
        raise _Mismatch(f"layer {name!r} has {len(group)} weight arrays, the config implies {len(shapes)}")
    out = []
    for i, shape in enumerate(shapes):
        a = group.get(str(i))
        if a is None or tuple(a.shape) != shape:
            raise _Mismatch(
                f"layer {name!r} weight {i} has shape {None if a is None else tuple(a.shape)}, the config "
                f"implies {shape}"
            )
        out.append(np.asarray(a[()], dtype=np.float32))
    return out


@dataclass
class Weights:
    """An lstmgen model's arrays in Keras layout: embedding (V, D); per LSTM layer (kernel, recurrent kernel, bias)
    with gates i, f, c, o; logits kernel (U, V) and bias (V,)."""

    embedding: np.ndarray
    cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    kernel: np.ndarray
    bias: np.ndarray

    @property
    def shape(self) -> dict:
        return {
            "vocab_size": int(self.embedding.shape[0]),
            "embedding_dim": int(self.embedding.shape[1]),
            "layers": len(self.cells),
            "units": [int(r.shape[0]) for _, r, _ in self.cells],
        }


def read_weights(path: str | Path) -> Weights:
    """The arrays of an lstmgen `.keras` file, checked by layer name and shape against its config.

    >>> read_weights("runs/book/best.keras").shape      # doctest: +SKIP
    {'vocab_size': 65, 'embedding_dim': 64, 'layers': 2, 'units': [256, 256]}
    """
    import h5py

    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise RunError(
            f"'{path}' is not a Keras model file (truncated or corrupt); use an intact checkpoint "
            "from the run's checkpoints/ directory"
        )
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            emb, lstms, dense = _layers(config)
            vocab, dim = int(emb["input_dim"]), int(emb["output_dim"])
            with z.open("model.weights.h5") as raw, h5py.File(raw, "r") as h5:
                groups = _groups_by_name(h5)
                (embedding,) = _arrays(groups, "embedding", [(vocab, dim)])
                cells, width = [], dim
                for c in lstms:
                    u = int(c["units"])
                    k, r, b = _arrays(groups, c["name"], [(width, 4 * u), (u, 4 * u), (4 * u,)])
                    cells.append((k, r, b))
                    width = u
                if int(dense["units"]) != vocab:
                    raise _Mismatch(f"its logits layer has {dense['units']} outputs for {vocab} input characters")
                kernel, bias = _arrays(groups, "logits", [(width, vocab), (vocab,)])
    except _Mismatch as e:
        raise RunError(f"'{path}' {NOT_LSTMGEN}: {e}; use a model written by `lstmgen train`") from None
    except LstmgenError:
        raise
    except Exception as e:  # damaged zip member, bad JSON, HDF5 errors, missing keys
        detail = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise RunError(f"cannot read model '{path}': {detail}; the file is damaged or not an lstmgen model") from None
    return Weights(embedding, cells, kernel, bias)
