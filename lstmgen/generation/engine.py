"""Continuous batching: every generation request in flight advances in one batched NumPy step.

One background thread owns the models' LSTM states. Each step it admits the streams that arrived since the last
step (a new stream joins with a zero state and feeds its prime one character per step, batched with everyone
else's generation), drops the streams that were cancelled or finished, steps each model once for all its streams,
samples every stream with its own settings and random generator, and wakes the consumers. A stream with a seed
draws exactly as `lstmgen generate --seed` does for one sample. No TensorFlow: the weights come from
`lstmgen.generation.weights` via `generate.load`.

Embedding it (no web server needed):

    from lstmgen.generation.engine import Engine
    with Engine.load(["runs/book"]) as engine:
        for chunk in engine.stream(prime="Once upon", length=300, temperature=0.8):
            print(chunk, end="", flush=True)
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import threading
import traceback
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lstmgen.data.vocab import Vocab
from lstmgen.errors import LstmgenError
from lstmgen.generation.sample import Sampling, StepModel
from lstmgen.generation.streams import Batch, Blas, Stream


class Busy(Exception):
    """More concurrent streams than the engine allows (HTTP 429)."""


@dataclass
class Model:
    name: str
    step_model: StepModel
    vocab: Vocab
    info: dict = field(default_factory=dict)  # what GET /v1/models shows


def describe_model(name: str, step_model: StepModel, vocab, choice) -> dict:
    """Name, shape, vocabulary size, training data and best validation loss, from the run's files."""
    from lstmgen.runs.rundir import RunDir

    run = RunDir(choice.run)
    info, checkpoints = run.info(), run.checkpoints()
    state = checkpoints[0][1] if checkpoints else None
    try:
        embedding_dim = run.saved_config().get("embedding_dim")
    except LstmgenError:  # config.yaml missing or damaged: the rest still describes the model
        embedding_dim = None
    return {
        "name": name,
        "path": str(choice.path),
        "which": choice.which,
        "layers": len(step_model.units),
        "units": step_model.units[0],
        "embedding_dim": embedding_dim,
        "vocab_size": step_model.vocab_size,
        "training_data": info.get("source"),
        "best_val_loss": state.best_val_loss if state else info.get("best_val_loss"),  # built-in: run.json
        "best_epoch": state.best_epoch if state else None,
        "global_step": state.global_step if state else None,
    }


class Engine:
    """The models, the stepping thread and the stream cap. Thread-safe; usable from sync and async code.

    `blas_threads`: None picks per batch as `lstmgen generate` does (one BLAS thread below 16 streams); a number
    fixes it. The limit is the process's (threadpoolctl), set while the thread steps and put back when it stops."""

    def __init__(self, models: Iterable[Model], max_streams: int = 128, blas_threads: int | None = None):
        self.models = {m.name: m for m in models}
        if not self.models:
            raise LstmgenError("no model to serve; pass a run directory or a .keras file")
        self.max_streams, self.blas_threads = max_streams, blas_threads
        self._batches = {name: Batch(m) for name, m in self.models.items()}
        self._pending: list[Stream] = []
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.steps = 0
        self.error: str | None = None  # what stopped the stepping thread, if it failed

    @classmethod
    def load(cls, targets: Iterable[str | Path | None], which: str = "best", warn=lambda m: None, **kwargs) -> Engine:
        from lstmgen.generation.generate import load

        models, seen = [], set()
        for target in list(targets) or [None]:
            step_model, vocab, choice = load(None if target is None else str(target), which, warn)
            name = choice.run.name if choice.which != "file" else f"{choice.run.name}/{choice.path.stem}"
            for n in itertools.count(2):
                if name not in seen:
                    break
                name = f"{name.rsplit('~', 1)[0]}~{n}"
            seen.add(name)
            models.append(Model(name, step_model, vocab, describe_model(name, step_model, vocab, choice)))
        return cls(models, **kwargs)

    # --- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> Engine:
        if self._thread is None:
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="lstmgen-engine", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Cancel whatever is still running and end the thread."""
        with self._cv:
            self._stop = True
            for s in self._pending + [s for b in self._batches.values() for s in b.streams]:
                s.cancel()
            self._cv.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._cv:  # wake every reader still waiting: its stream ends here
            left, self._pending = self._pending + [s for b in self._batches.values() for s in b.streams], []
            for b in self._batches.values():
                b.admit([])
        for s in left:
            with s._lock:
                s.done = True
        self._wake(left)

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- requests ----------------------------------------------------------------------------------------------
    def active(self) -> int:
        """Streams admitted or waiting to be, not yet finished or cancelled."""
        with self._cv:
            return sum(not (s.done or s.cancelled) for b in self._batches.values() for s in b.streams) + sum(
                not (s.done or s.cancelled) for s in self._pending
            )

    def submit(
        self,
        prime: str = "",
        length: int = 500,
        sampling: Sampling | None = None,
        seed: int | None = None,
        num_samples: int = 1,
        model: str | None = None,
        **sampling_kwargs,
    ) -> list[Stream]:
        """Start `num_samples` streams of one request. Raises Busy over the cap, KeyError for an unknown model.

        Sample k > 0 of a request draws from seed (seed, k), so every sample of a seeded request is reproducible."""
        m = self.models[model] if model is not None else next(iter(self.models.values()))
        sampling = (sampling or Sampling(**sampling_kwargs)).check()
        prime_ids = m.vocab.encode(prime, unknown="map")
        streams = [
            Stream(m, prime_ids, length, sampling, seed if k == 0 or seed is None else (seed, k), k)
            for k in range(num_samples)
        ]
        if self._thread is None:
            self.start()
        with self._cv:
            if self.active() + num_samples > self.max_streams:
                raise Busy(f"{self.max_streams} streams are already running; try again shortly")
            self._pending += [s for s in streams if not s.done]
            self._cv.notify()
        return streams

    def stream(self, prime: str = "", length: int = 500, **kwargs) -> Stream:
        """One stream: `submit` with num_samples=1."""
        return self.submit(prime, length, num_samples=1, **kwargs)[0]

    # --- the stepping thread -----------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except Exception as e:  # a bug must not leave readers waiting forever: end every stream, say so once
            self.error = f"{type(e).__name__}: {e}"
            if os.environ.get("LSTMGEN_DEBUG"):
                traceback.print_exc()
            print(
                f"lstmgen: internal error in the generation engine: {self.error} (its streams were ended; "
                "LSTMGEN_DEBUG=1 shows the traceback)",
                file=sys.stderr,
                flush=True,
            )
            with self._cv:
                left = self._pending + [s for b in self._batches.values() for s in b.streams]
                self._pending = []
                for b in self._batches.values():
                    b.streams, b.state = [], b.model.step_model.zero_state(0)
                self._thread = None  # the next submit starts a fresh thread
            for s in left:
                with s._lock:
                    s.done = s.cancelled = True
            self._wake(left)

    def _loop(self) -> None:
        blas = Blas(self.blas_threads)
        try:
            while True:
                with self._cv:
                    while not self._stop and not self._pending and not any(b.streams for b in self._batches.values()):
                        self._cv.wait()
                    if self._stop:
                        return
                    new, self._pending = self._pending, []
                by_model = defaultdict(list)
                for s in new:
                    by_model[s.model.name].append(s)
                woken = []
                for name, batch in self._batches.items():
                    batch.admit(by_model.get(name, []))
                    if batch.streams:
                        blas.fit(len(batch.streams))
                        woken += batch.step()
                self.steps += 1
                self._wake(woken)
        finally:
            blas.fit(None)

    @staticmethod
    def _wake(streams: list[Stream]) -> None:
        loops = defaultdict(list)
        for s in streams:
            if s._loop is None:
                s._sync.set()
                continue
            event = s._async
            assert event is not None, "a stream made inside an event loop has its event"
            # an event already set needs no call into its loop: a reader that is busy or pausing between sends
            # costs nothing per step (a reader clears its event before taking text, so no wake-up is lost)
            if not event.is_set():
                loops[s._loop].append(event)
        for loop, events in loops.items():
            try:
                loop.call_soon_threadsafe(_set_all, events)
            except RuntimeError:  # that loop is closed: its reader is gone
                pass


def _set_all(events: list[asyncio.Event]) -> None:
    for e in events:
        e.set()
