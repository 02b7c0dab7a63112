"""Which process of a multi-host job this is: `Job`, and `join_job` reading the options (else the environment) and
joining the JAX job."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lstmgen.config import Config
from lstmgen.errors import LstmgenError
from lstmgen.runtime import backend

_ENV = {
    "coordinator": ("LSTMGEN_COORDINATOR", "JAX_COORDINATOR_ADDRESS"),
    "num_processes": ("LSTMGEN_NUM_PROCESSES", "JAX_NUM_PROCESSES"),
    "process_id": ("LSTMGEN_PROCESS_ID", "JAX_PROCESS_ID"),
}
_JOINED: tuple | None = None  # (coordinator, processes, process id) once jax.distributed is initialised


@dataclass
class Job:
    """Where this process sits: `processes` in the job, this one's `process_id` (0 is the chief)."""

    processes: int = 1
    process_id: int = 0
    coordinator: str = ""

    @property
    def is_chief(self) -> bool:
        return self.process_id == 0

    def all_ok(self, ok: bool) -> bool:
        """True on every process if the chief says `ok` (the chief's verdict, broadcast to all)."""
        if self.processes == 1:
            return ok
        from jax.experimental import multihost_utils

        return bool(multihost_utils.broadcast_one_to_all(np.int32(1 if ok else 0)))

    def gather(self, values: list[int]) -> list[list[int]]:
        """Every process's `values` (same length on all), in process order: one small all-gather, so every process
        must call it at the same point."""
        if self.processes == 1:
            return [list(values)]
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(np.asarray(values, np.int32))).tolist()


def _from_env(key: str, value, unset):
    if value != unset:
        return value
    for name in _ENV[key]:
        if os.environ.get(name, "").strip():
            raw = os.environ[name].strip()
            if key == "coordinator":
                return raw
            try:
                return int(raw)
            except ValueError:
                raise LstmgenError(f"${name} must be an integer, got {raw!r}; fix or unset it") from None
    return unset


def join_job(cfg: Config) -> Job:
    """Read the multi-host settings (options, else environment) and, for several processes, join the JAX job.
    Must run before anything touches JAX devices."""
    global _JOINED
    processes = _from_env("num_processes", cfg.num_processes, 0) or 1
    if processes == 1:
        return Job()
    if backend.NAME != "jax":
        raise LstmgenError(
            f"multi-host training (--num-processes {processes}) is not supported on the {backend.NAME} "
            f"backend (MultiWorkerMirroredStrategy with model.fit is broken in Keras 3.15, "
            f"keras-team/keras#20585); run every process with KERAS_BACKEND=jax"
        )
    coordinator = _from_env("coordinator", cfg.coordinator, "")
    pid = _from_env("process_id", cfg.process_id, -1)
    if not coordinator or pid < 0 or pid >= processes:
        raise LstmgenError(
            f"a {processes}-process job needs --coordinator HOST:PORT and --process-id "
            f"0…{processes - 1} (or $LSTMGEN_COORDINATOR and $LSTMGEN_PROCESS_ID) on every process"
        )
    if _JOINED is None:
        backend.keras.distribution.initialize(coordinator, processes, pid)
        _JOINED = (coordinator, processes, pid)
    elif _JOINED != (coordinator, processes, pid):
        raise LstmgenError("this Python process already joined another multi-host job; start a new process")
    return Job(processes, pid, coordinator)
