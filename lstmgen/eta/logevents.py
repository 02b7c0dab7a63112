"""The normalised events a training log is turned into (see `lstmgen.eta.logparse`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class EpochHeader:
    """`Epoch k/N` (Keras), or a plain `epoch k/N` line."""

    line: int
    epoch: int
    total: int | None


@dataclass(slots=True)
class Progress:
    """One progress-bar snapshot. Times are seconds; None where the format does not show them."""

    line: int
    step: int
    total: int | None
    kind: str  # 'keras3' | 'keras2' | 'tqdm' | 'lstmgen'
    eta_s: float | None = None
    per_step_s: float | None = None  # the tool's own per-step figure
    elapsed_s: float | None = None  # seconds since this bar (epoch) began
    timestamp: float | None = None  # wall clock (POSIX seconds) when the line says so
    phase: str = "train"  # 'eval' only when the text says so (tqdm description)
    final: bool = False  # end-of-epoch summary (elapsed = whole epoch)
    epoch: int | None = None  # from a tqdm description or an lstmgen line
    epoch_total: int | None = None
    desc: str = ""
    step_res_s: float = 0.0  # display resolution of per_step_s
    epoch_s: float | None = None  # tf.keras >= 2.9 verbose=2: the exact '- 253ms/epoch'


@dataclass(slots=True)
class EpochEnd:
    """An epoch total without a bar: Keras 1/2 `- 8s - loss`, lstmgen `epoch k/N end`."""

    line: int
    duration_s: float | None
    steps: int | None = None
    epoch: int | None = None
    epoch_total: int | None = None
    timestamp: float | None = None
    kind: str = "keras2"


@dataclass(slots=True)
class RunStart:
    """lstmgen `start` line; resumed=True continues the previous run."""

    line: int
    timestamp: float | None
    epochs: int | None
    steps_per_epoch: int | None
    resumed: bool


@dataclass(slots=True)
class RunEnd:
    """lstmgen `finished` / `interrupted`, Keras `early stopping`, or its 'input ran out of data' warning."""

    line: int
    timestamp: float | None
    reason: str  # 'finished' | 'interrupted' | 'early_stopping' | 'out_of_data' (a warning: marks the epoch)
    epoch: int | None = None
    step: int | None = None


@dataclass(slots=True)
class Timestamp:
    """A wall-clock stamp found in other text (TensorFlow, absl, Python logging)."""

    line: int
    ts: float
    source: str  # 'iso' | 'unix' | 'absl'


Event = EpochHeader | Progress | EpochEnd | RunStart | RunEnd | Timestamp
