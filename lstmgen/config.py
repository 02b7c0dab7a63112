"""Training configuration: defaults, YAML presets in configs/, validated overrides. No TensorFlow here."""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from lstmgen.errors import ConfigError
from lstmgen.util.limits import EPOCHS, SEED, TEMPERATURE, check_range
from lstmgen.util.yamlfile import load_yaml_file

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# Keys that fix the shape of the weights: changing them on a continued run is refused.
SHAPE_KEYS = ("embedding_dim", "layers", "units")
# Keys that change the data a run was prepared from: also refused on a continued run.
DATA_KEYS = ("val_fraction", "lowercase")
# Keys that say how a run's weights started: fixed when the run is created.
INIT_KEYS = ("init_from", "init_vocab", "freeze_layers")
# What `train --from` changes from the from-scratch recipe unless the config file or an option says otherwise.
# Measured (bench/bench_finetune.py --sweep, 50 kB of licence texts, 2 min): peak 3e-3 reaches the best loss of
# 1e-3 (1.537 against 1.542 nats) in 45 % of the time, 3e-4 is far slower (1.670); the best checkpoint is kept, so
# the overfitting that follows costs nothing. About 1,000 steps get there, so the default is a fixed number of
# steps (10 epochs of 100) whatever the corpus's size, with a short warm-up.
FINETUNE_DEFAULTS = {
    "learning_rate": 3e-3,
    "warmup_steps": 10,
    "min_learning_rate": 1e-4,
    "epochs": 10,
    "steps_per_epoch": 100,
}
# Where this process sits in a multi-host job: per launch, never saved with the run.
LAUNCH_KEYS = ("coordinator", "num_processes", "process_id")


@dataclass
class Config:
    """Every knob of a run. Each field is a YAML key and a `--key-name` option of `lstmgen train`.

    The defaults are the CPU default recipe (configs/cpu.yaml spells the same values out)."""

    # model
    embedding_dim: int = 64
    layers: int = 2
    units: int = 256
    dropout: float = 0.2
    embedding_dropout: bool = True  # also drop the embedding (the first LSTM layer's input); char-rnn does not
    # fine-tuning (lstmgen/basemodel.py, remap.py)
    init_from: str = ""  # RUN_DIR, MODEL.keras or builtin:NAME; empty: random initialisation
    init_vocab: str = "corpus"  # corpus | union (with the base's characters)
    freeze_layers: int = 0  # keep the first N LSTM layers at the base's weights
    # data
    seq_len: int = 64
    batch_size: int = 32
    val_fraction: float = 0.1
    lowercase: bool = False
    # optimisation
    epochs: int = 20
    steps_per_epoch: int = 0  # 0: one pass over the training split
    learning_rate: float = 4e-3
    min_learning_rate: float = 1e-4  # end of the cosine schedule
    warmup_steps: int = 20
    lr_schedule: str = "cosine"  # cosine | constant
    clipnorm: float = 5.0
    adam_beta2: float = 0.999  # decay of Adam's second-moment average (Keras' default)
    weight_decay: float = 0.0  # decoupled (AdamW); biases are not decayed
    ema: float = 0.995  # decay of the weights' moving average that validation and saved models use; 0: off
    stateful: bool = False  # batch rows continue the text and LSTM state of the previous batch (training/stateful.py)
    max_minutes: float = 0.0  # 0: no time budget; otherwise stop after this much training time
    fit_to_budget: bool = False  # plan the epochs that fit in max_minutes and end the cosine there (training/budget.py)
    seed: int = 0  # 0: random seed chosen and recorded
    # speed
    jit_compile: str = "auto"  # auto | on | off
    mixed_precision: str = "auto"  # auto | off | bf16
    steps_per_execution: int = 1
    lstm_kernel: str = "auto"  # auto | fused | keras (lstmgen/fused.py)
    threads: int = 0  # 0: auto (TensorFlow on a CPU: CPUs - 1; otherwise the backend's default)
    val_batch_size: int = 256
    # Also validate with the state carried (generation/scoring.py); 0: off. 16 pieces are within 0.0005 nats of one
    # pass and 2.3x faster on the 2 x 512 model, 3.2x before scoring a layer at a time (bench/bench_stateful_eval.py).
    stateful_val_streams: int = 16
    # checkpoints and logging
    checkpoint_minutes: float = 10.0  # also checkpoint mid-epoch this often (0: only at epoch ends)
    checkpoint_steps: int = 0  # also checkpoint mid-epoch every N steps (0: off)
    keep_checkpoints: int = 3
    log_every_steps: int = 50
    tensorboard: bool = True  # TensorBoard event files in RUN/tensorboard
    sample_every_epochs: int = 1  # print and keep a short sample every N epochs (0: off)
    sample_length: int = 200
    sample_temperatures: str = "0.5,1.0"  # comma-separated
    # distribution (lstmgen/distribute.py)
    distribute: str = "off"  # off | auto | mirrored | data_parallel
    devices: str = ""  # comma-separated; empty: every local GPU (or CPU)
    lr_scaling: str = "none"  # none | linear | sqrt
    coordinator: str = ""  # multi-host (JAX): host:port of process 0; empty: $LSTMGEN_COORDINATOR
    num_processes: int = 0  # 0: $LSTMGEN_NUM_PROCESSES or $JAX_NUM_PROCESSES, else 1
    process_id: int = -1  # -1: $LSTMGEN_PROCESS_ID or $JAX_PROCESS_ID

    def resolved(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {
    "lr_schedule": ("cosine", "constant"),
    "jit_compile": ("auto", "on", "off"),
    "mixed_precision": ("auto", "off", "bf16"),
    "lstm_kernel": ("auto", "fused", "keras"),
    "init_vocab": ("corpus", "union"),
    "distribute": ("off", "auto", "mirrored", "data_parallel"),
    "lr_scaling": ("none", "linear", "sqrt"),
}
# The values each numeric key accepts, inclusive: (lowest, highest). Upper bounds keep every size, count and step
# number within what the code and memory can handle; check_fits (train.py) also checks the weights and activations.
RANGES = {
    "embedding_dim": (1, 65_536),
    "layers": (1, 64),
    "units": (1, 65_536),
    "dropout": (0.0, 1.0),
    "freeze_layers": (0, 64),
    "seq_len": (1, 1_000_000),
    "batch_size": (1, 1_000_000),
    "val_fraction": (0.0, 1.0),
    "epochs": EPOCHS,
    "steps_per_epoch": (0, 10**9),
    "learning_rate": (0.0, 100.0),
    "min_learning_rate": (0.0, 100.0),
    "warmup_steps": (0, 10**9),
    "clipnorm": (0.0, 1e9),
    "adam_beta2": (0.0, 1.0),
    "weight_decay": (0.0, 1.0),
    "ema": (0.0, 1.0),
    "max_minutes": (0.0, 1e8),
    "seed": SEED,
    "steps_per_execution": (1, 10_000),
    "threads": (0, 1024),
    "val_batch_size": (1, 1_000_000),
    "stateful_val_streams": (0, 1_000_000),
    "checkpoint_minutes": (0.0, 1e8),
    "checkpoint_steps": (0, 10**9),
    "keep_checkpoints": (1, 1000),
    "log_every_steps": (1, 10**9),
    "sample_every_epochs": (0, 1_000_000),
    "sample_length": (1, 100_000),
    "num_processes": (0, 4096),
    "process_id": (-1, 4095),
}
# the ends a key's range leaves out; the rest include both ends
OPEN_ENDS = {"adam_beta2": "()", "dropout": "[)", "ema": "[)", "val_fraction": "[)", "learning_rate": "(]"}
FIELD_TYPES = {f.name: f.type for f in fields(Config)}


def _type_name(t) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(_pytype(t), str(t))


def _pytype(t):
    return {"int": int, "float": float, "bool": bool, "str": str}.get(t, t) if isinstance(t, str) else t


def coerce(key: str, value, source: str = "config"):
    """Convert `value` to the type of `key`, raising ConfigError with a clear message."""
    if key not in FIELD_TYPES:
        close = difflib.get_close_matches(key, FIELD_TYPES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        shown = repr(key)[1:-1] if len(key) <= 40 else repr(key)[1:40] + "…"  # no line break from a hostile key
        raise ConfigError(f"unknown {source} key '{shown}'{hint}; valid keys: {', '.join(FIELD_TYPES)}")
    t = _pytype(FIELD_TYPES[key])
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
    bad = ConfigError(f"{source} key '{key}' must be {_type_name(t)}, got {shown}")
    if t is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise bad
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise bad
    if t is int:  # an integer, an integer-valued float (12.0) or its text; never a rounded 12.7
        if isinstance(value, float):
            if not value.is_integer():
                raise bad
            return int(value)
        try:
            return int(value)
        except ValueError:
            raise bad from None
    if t is float:
        try:
            out = float(value)
        except (ValueError, OverflowError):
            raise bad from None
        if not math.isfinite(out):
            raise bad
        return out
    return str(value)


def config_keys() -> list[str]:
    """Every configuration key, in the order `python -m lstmgen.config` documents them.

    >>> "epochs" in config_keys()
    True
    """
    return list(FIELD_TYPES)


def check_override_keys(overrides: dict) -> None:
    """Refuse an unknown key or a value of the wrong type before anything is read or written (ranges are checked
    with the whole config)."""
    for key, value in overrides.items():
        if value is not None:
            coerce(key, value, "config")


def validate(cfg: Config) -> Config:
    for key, (lo, hi) in RANGES.items():
        check_range(
            f"config key '{key}' (--{key.replace('_', '-')})", getattr(cfg, key), lo, hi, OPEN_ENDS.get(key, "[]")
        )
    for key, allowed in CHOICES.items():
        if getattr(cfg, key) not in allowed:
            raise ConfigError(f"config key '{key}' must be one of {', '.join(allowed)}, got {getattr(cfg, key)!r}")
    for key in ("devices", "coordinator"):
        if len(getattr(cfg, key)) > 1000:
            raise ConfigError(
                f"config key '{key}' is {len(getattr(cfg, key)):,} characters long, at most 1,000 are allowed"
            )
    parse_temperatures(cfg.sample_temperatures)
    return cfg


def parse_temperatures(text: str) -> list[float]:
    """'0.5,1.0' → [0.5, 1.0]; each in limits.TEMPERATURE (at least one, at most eight)."""
    fix = "give comma-separated numbers, e.g. --sample-temperatures 0.5,1.0"
    out = []
    for part in str(text).split(","):
        try:
            t = float(part)
        except ValueError:
            raise ConfigError(f"sample_temperatures: {part.strip()!r} is not a number; {fix}") from None
        out.append(check_range("sample_temperatures: each temperature", t, *TEMPERATURE, fix=fix))
    if len(out) > 8:
        raise ConfigError(f"sample_temperatures: {len(out)} temperatures, at most 8 are allowed; {fix}")
    return out


def preset_names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def read_yaml(path_or_name: str) -> dict:
    """Read a config file (a path, or the name of a preset in configs/) into a dict of validated values."""
    path = Path(path_or_name)
    if not path.exists() and (CONFIG_DIR / f"{path_or_name}.yaml").exists():
        path = CONFIG_DIR / f"{path_or_name}.yaml"
    if not path.exists():
        raise ConfigError(f"config file '{path_or_name}' not found; give a path or one of: {', '.join(preset_names())}")
    if path.is_dir():
        raise ConfigError(f"config '{path_or_name}' is a directory; give a YAML file")
    data = load_yaml_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must be a mapping of key: value pairs")
    return {str(k): coerce(str(k), v, source=f"config file '{path.name}'") for k, v in data.items()}


def make_config(config_file: str | None = None, overrides: dict | None = None, base: dict | None = None) -> Config:
    """Defaults ← base (e.g. a run's saved config) ← config file ← command-line overrides."""
    values = dataclasses.asdict(Config())
    for layer, source in (
        (base, "saved config"),
        (read_yaml(config_file) if config_file else None, None),
        (overrides, "option"),
    ):
        for k, v in (layer or {}).items():
            if v is not None:
                values[k] = coerce(k, v, source or "config") if source else v
    return validate(Config(**values))


def dump_yaml(cfg: Config) -> str:
    """The run's config.yaml: every key except the per-launch LAUNCH_KEYS."""
    return yaml.safe_dump({k: v for k, v in cfg.resolved().items() if k not in LAUNCH_KEYS}, sort_keys=False)
