"""Data-parallel training on an existing engine: TensorFlow MirroredStrategy, or JAX keras.distribution.DataParallel
(multi-host through jax.distributed). `lstmgen.training.job.join_job` places this process in its job; `setup` returns
the Plan train.py follows: replica count, per-replica batch, chief flag, data shard, the scope to train in, and a
describe() line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lstmgen.config import Config
from lstmgen.errors import LstmgenError
from lstmgen.runtime import backend
from lstmgen.runtime.backend import import_tensorflow
from lstmgen.training.job import Job

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


@dataclass
class Plan:
    """How this process trains: `replicas` model copies fed `global_batch` rows per step."""

    mode: str  # off | mirrored | data_parallel
    replicas: int
    global_batch: int
    job: Job
    devices: list
    lr_factor: float = 1.0
    lr_rule: str = "none"
    engine: tf.distribute.Strategy | keras.distribution.DataParallel | None = None

    @property
    def is_chief(self) -> bool:
        return self.job.is_chief

    @property
    def per_replica_batch(self) -> int:
        return self.global_batch // self.replicas

    @property
    def shard(self) -> tuple[int, int]:
        """(index, count) of the rows of every global batch this process feeds."""
        return self.job.process_id, self.job.processes

    def scaled(self, cfg: Config) -> Config:
        """The config with the learning-rate rule applied (the saved config keeps the unscaled values)."""
        if self.lr_factor == 1.0:
            return cfg
        return dataclasses.replace(
            cfg,
            learning_rate=cfg.learning_rate * self.lr_factor,
            min_learning_rate=cfg.min_learning_rate * self.lr_factor,
        )

    @contextlib.contextmanager
    def scope(self):
        """Build, compile, restore and fit inside this."""
        with self.engine.scope() if self.engine is not None else contextlib.nullcontext():
            yield

    @contextlib.contextmanager
    def local(self):
        """Around work only the chief does (saving): no multi-process data distribution, so no collective."""
        if self.mode != "data_parallel" or self.job.processes == 1:
            yield
            return
        dist = backend.keras.distribution
        previous = dist.distribution()
        dist.set_distribution(None)
        try:
            yield
        finally:
            dist.set_distribution(previous)

    def describe(self) -> str:
        if self.mode == "off":
            return f"distribution off: 1 replica, batch {self.global_batch}"
        names = ", ".join(str(d) for d in self.devices)
        lines = [
            f"distribution {self.mode}: {self.replicas} replicas ({names})",
            f"global batch {self.global_batch} = {self.replicas} × {self.per_replica_batch} per replica",
            f"learning rate ×{self.lr_factor:g} (lr_scaling {self.lr_rule})",
        ]
        i, n = self.shard
        if n > 1:
            part = self.global_batch // n
            lines.append(f"process {i} of {n} feeds rows {i * part}–{(i + 1) * part - 1} of each global batch")
        else:
            lines.append("each global batch is split evenly across the replicas")
        return "; ".join(lines)

    def check_replicas(self, model) -> str:
        """One line: how many local copies of the weights there are, their largest difference and a checksum."""
        copies = [_local_copies(self, v) for v in model.weights]
        spread = max((float(np.max(np.abs(c - c0))) for cs in copies for c0 in cs[:1] for c in cs[1:]), default=0.0)
        digest = hashlib.sha256(b"".join(np.ascontiguousarray(cs[0]).tobytes() for cs in copies)).hexdigest()[:16]
        return (
            f"process {self.job.process_id}: {len(copies[0])} local replica(s) of the weights, max difference "
            f"{spread:g}, checksum {digest}"
        )


def _local_copies(plan: Plan, variable) -> list[np.ndarray]:
    value = variable.value
    if plan.mode == "mirrored":
        assert plan.engine is not None, "setup gives a mirrored plan its strategy"
        return [np.asarray(v.numpy()) for v in plan.engine.experimental_local_results(value)]
    if plan.mode == "data_parallel":
        return [np.asarray(s.data) for s in value.addressable_shards]
    return [np.asarray(backend.keras.ops.convert_to_numpy(value))]


def _lr_factor(rule: str, replicas: int) -> float:
    return {"none": 1.0, "linear": float(replicas), "sqrt": math.sqrt(replicas)}[rule]


def _resolve_mode(cfg: Config, job: Job) -> str:
    mode = cfg.distribute
    if mode == "auto":
        if backend.NAME == "tensorflow":
            mode = "mirrored" if cfg.devices or len(_tf_gpus()) > 1 else "off"
        elif backend.NAME == "jax":
            import jax

            mode = "data_parallel" if cfg.devices or job.processes > 1 or jax.device_count() > 1 else "off"
        else:
            mode = "off"
    if mode == "off" and job.processes > 1:
        mode = "data_parallel"
    want = {"mirrored": "tensorflow", "data_parallel": "jax"}.get(mode)
    if want and backend.NAME != want:
        raise LstmgenError(
            f"--distribute {mode} needs the {want} backend, this is {backend.NAME}; run with "
            f"KERAS_BACKEND={want}, or use --distribute auto"
        )
    return mode


def _tf_gpus() -> list:
    return import_tensorflow().config.list_physical_devices("GPU")


def _split_list(text: str) -> list[str]:
    return [d.strip() for d in text.split(",") if d.strip()]


def _mirrored(cfg: Config):
    tf = import_tensorflow()

    devices = _split_list(cfg.devices) or [f"/gpu:{i}" for i in range(len(_tf_gpus()))] or ["/cpu:0"]
    cpus = [d for d in devices if "cpu" in d.lower()]
    if len(cpus) > 1:  # split the one physical CPU into logical devices, before TensorFlow initialises them
        physical = tf.config.list_physical_devices("CPU")[0]
        wanted = [tf.config.LogicalDeviceConfiguration() for _ in cpus]
        current = tf.config.get_logical_device_configuration(physical)
        if current is None or len(current) != len(cpus):
            try:
                tf.config.set_logical_device_configuration(physical, wanted)
            except RuntimeError:
                raise LstmgenError(
                    f"cannot split the CPU into {len(cpus)} devices after TensorFlow started; run "
                    "lstmgen train in a new process"
                ) from None
    try:
        strategy = tf.distribute.MirroredStrategy(devices=devices)
    except (ValueError, RuntimeError) as e:
        raise LstmgenError(
            f"--devices {cfg.devices or '(all GPUs)'}: {e}; list devices such as /gpu:0,/gpu:1"
        ) from None
    return strategy, list(strategy.extended.worker_devices)


def _data_parallel(cfg: Config, job: Job):
    import jax

    devices = jax.devices()
    if cfg.devices:
        if job.processes > 1:
            raise LstmgenError(
                "--devices cannot be combined with a multi-process job (every device of every process "
                "is used); leave it empty"
            )
        try:
            devices = [jax.devices()[int(i.split(":")[-1])] for i in _split_list(cfg.devices)]
        except (ValueError, IndexError):
            raise LstmgenError(
                f"--devices {cfg.devices}: give JAX device indices 0…{jax.device_count() - 1}, e.g. 0,1"
            ) from None
    engine = backend.keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    return engine, devices


def setup(cfg: Config, job: Job | None = None) -> Plan:
    """The plan for `cfg` in `job` (join_job's result). On TensorFlow this creates the strategy, so it must run
    before TensorFlow initialises its logical devices (anything that places a tensor)."""
    job = job or Job()
    mode = _resolve_mode(cfg, job)
    engine, devices = None, []
    if mode == "mirrored":
        engine, devices = _mirrored(cfg)
    elif mode == "data_parallel":
        engine, devices = _data_parallel(cfg, job)
    replicas = max(len(devices), 1)
    if cfg.batch_size % replicas:
        raise LstmgenError(
            f"batch_size {cfg.batch_size} (the global batch) does not split over {replicas} replicas; "
            f"give a multiple of {replicas}"
        )
    return Plan(
        mode, replicas, cfg.batch_size, job, devices, _lr_factor(cfg.lr_scaling, replicas), cfg.lr_scaling, engine
    )
