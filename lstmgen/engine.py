"""Continuous batching: every generation request in flight advances in one batched NumPy step.

One background thread owns the models' LSTM states. Each step it admits the streams that arrived since the last
step (a new stream joins with a zero state and feeds its prime one character per step, batched with everyone
else's generation), drops the streams that were cancelled or finished, steps each model once for all its streams,
samples every stream with its own settings and random generator, and wakes the consumers. A stream with a seed
draws exactly as `lstmgen generate --seed` does for one sample. No TensorFlow: the weights come from
`lstmgen.weights` via `generate.load`.

Embedding it (no web server needed):

    from lstmgen.engine import Engine
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from threadpoolctl import threadpool_limits

from lstmgen.errors import UserError
from lstmgen.sample import SINGLE_THREAD_BELOW, Sampling, StepModel, probabilities


class Busy(Exception):
    """More concurrent streams than the engine allows (HTTP 429)."""


@dataclass
class Model:
    name: str
    step_model: StepModel
    vocab: object  # lstmgen.vocab.Vocab
    info: dict = field(default_factory=dict)  # what GET /v1/models shows


def describe_model(name: str, step_model: StepModel, vocab, choice) -> dict:
    """Name, shape, vocabulary size, training data and best validation loss, from the run's files."""
    from lstmgen.rundir import RunDir

    run = RunDir(choice.run)
    info, checkpoints = run.info(), run.checkpoints()
    state = checkpoints[0][1] if checkpoints else {}
    try:
        embedding_dim = run.saved_config().get("embedding_dim")
    except UserError:  # config.yaml missing or damaged: the rest still describes the model
        embedding_dim = None
    return {"name": name, "path": str(choice.path), "which": choice.which, "layers": len(step_model.units),
            "units": step_model.units[0], "embedding_dim": embedding_dim, "vocab_size": step_model.vocab_size,
            "training_data": info.get("source"), "best_val_loss": state.get("best_val_loss"),
            "best_epoch": state.get("best_epoch"), "global_step": state.get("global_step")}


class Stream:
    """One sample being generated. Iterate it (sync or async) for text chunks; `cancel()` stops it at once."""

    def __init__(self, model: Model, prime_ids: np.ndarray, length: int, sampling: Sampling, seed, index: int = 0):
        self.model, self.sampling, self.index = model, sampling, index
        self.rng = np.random.default_rng(seed)
        self.inputs = [int(i) for i in prime_ids] or [int(self.rng.integers(model.step_model.vocab_size))]
        self.remaining = length
        self.done = length == 0
        self.cancelled = False
        self.produced = 0
        self._buf: list[str] = []
        self._lock = threading.Lock()
        self._sync = threading.Event()
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            self._async = asyncio.Event()
        except RuntimeError:
            self._loop, self._async = None, None
        if self.done:
            self._sync.set()

    def cancel(self) -> None:
        self.cancelled = True

    def take(self) -> tuple[str, bool]:
        """The text produced since the last take, and whether the stream has ended."""
        with self._lock:
            text = "".join(self._buf)
            self._buf.clear()
            return text, self.done

    def __iter__(self):
        while True:
            self._sync.wait()
            self._sync.clear()
            text, done = self.take()
            if text:
                yield text
            if done:
                return

    async def chunks(self):
        assert self._async is not None, "create the stream inside the event loop that reads it"
        if self.done:
            return
        while True:
            await self._async.wait()
            self._async.clear()
            text, done = self.take()
            if text:
                yield text
            if done:
                return


class _Batch:
    """The streams of one model and their LSTM state, one row each."""

    def __init__(self, model: Model):
        self.model = model
        self.streams: list[Stream] = []
        self.state = model.step_model.zero_state(0)

    def admit(self, new: list[Stream]) -> None:
        keep = [not (s.cancelled or s.done) for s in self.streams]
        if not all(keep):
            self.streams = [s for s, k in zip(self.streams, keep) if k]
            self.state = [(h[keep], c[keep]) for h, c in self.state]
        if new:
            self.streams += new
            zero = self.model.step_model.zero_state(len(new))
            self.state = [(np.concatenate([h, h0]), np.concatenate([c, c0])) for (h, c), (h0, c0) in
                          zip(self.state, zero)]

    def step(self) -> list[Stream]:
        """Feed every stream its next input (a prime character or its last sample), sample the ready ones."""
        streams = self.streams
        ids = np.fromiter((s.inputs.pop(0) if s.inputs else s.last for s in streams), np.int64, len(streams))
        logits, self.state = self.model.step_model.step(ids, self.state)
        ready = [k for k, s in enumerate(streams) if not s.inputs and not s.cancelled]
        groups = defaultdict(list)
        for k in ready:
            groups[_key(streams[k].sampling)].append(k)
        chars = self.model.vocab.chars
        for rows in groups.values():
            sampling = streams[rows[0]].sampling
            block = logits[rows]
            if sampling.greedy:
                picks = block.argmax(axis=-1)
            else:  # each stream draws from its own generator, as `generate_ids` does for one stream
                p = probabilities(block, sampling)
                u = np.array([[streams[k].rng.random()] for k in rows])
                picks = np.minimum((np.cumsum(p, axis=-1) < u).sum(axis=-1), p.shape[-1] - 1)
            for k, pick in zip(rows, picks.tolist()):
                s = streams[k]
                s.last = pick
                s.remaining -= 1
                s.produced += 1
                with s._lock:
                    s._buf.append(chars[pick])
                    s.done = s.remaining <= 0
        return [streams[k] for k in ready]


class _Blas:
    """BLAS threads for a batch, as `sample.generate_ids` picks them: one below SINGLE_THREAD_BELOW streams (more only
    add hand-off latency there), the library's default above; or a fixed count. Changed only when the choice does."""

    def __init__(self, fixed: int | None):
        self.fixed, self.limiter, self.single = fixed, None, None

    def fit(self, streams: int | None) -> None:
        """Set the limit for a batch of `streams` (None: put the original limits back)."""
        single = None if streams is None else (True if self.fixed else streams < SINGLE_THREAD_BELOW)
        if single == self.single:
            return
        if self.limiter is not None:
            self.limiter.restore_original_limits()
            self.limiter = None
        if single:
            self.limiter = threadpool_limits(limits=self.fixed or 1, user_api="blas")
        self.single = single


def _key(s: Sampling) -> tuple:
    return (s.temperature, s.top_k, s.top_p, s.greedy)


class Engine:
    """The models, the stepping thread and the stream cap. Thread-safe; usable from sync and async code.

    `blas_threads`: None picks per batch as `lstmgen generate` does (one BLAS thread below 16 streams); a number
    fixes it. The limit is the process's (threadpoolctl), set while the thread steps and put back when it stops."""

    def __init__(self, models: Iterable[Model], max_streams: int = 128, blas_threads: int | None = None):
        self.models = {m.name: m for m in models}
        if not self.models:
            raise UserError("no model to serve; pass a run directory or a .keras file")
        self.max_streams, self.blas_threads = max_streams, blas_threads
        self._batches = {name: _Batch(m) for name, m in self.models.items()}
        self._pending: list[Stream] = []
        self._cv = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.steps = 0
        self.error: str | None = None  # what stopped the stepping thread, if it failed

    @classmethod
    def load(cls, targets: Iterable[str | Path | None], which: str = "best", warn=lambda m: None,
             **kwargs) -> "Engine":
        from lstmgen.generate import load

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
    def start(self) -> "Engine":
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

    def __enter__(self) -> "Engine":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- requests ----------------------------------------------------------------------------------------------
    def active(self) -> int:
        """Streams admitted or waiting to be, not yet finished or cancelled."""
        with self._cv:
            return sum(not (s.done or s.cancelled) for b in self._batches.values() for s in b.streams) + \
                sum(not (s.done or s.cancelled) for s in self._pending)

    def submit(self, prime: str = "", length: int = 500, sampling: Sampling | None = None, seed: int | None = None,
               num_samples: int = 1, model: str | None = None, **sampling_kwargs) -> list[Stream]:
        """Start `num_samples` streams of one request. Raises Busy over the cap, KeyError for an unknown model.

        Sample k > 0 of a request draws from seed (seed, k), so every sample of a seeded request is reproducible."""
        m = self.models[model] if model is not None else next(iter(self.models.values()))
        sampling = (sampling or Sampling(**sampling_kwargs)).check()
        prime_ids = m.vocab.encode(prime, unknown="map")
        streams = [Stream(m, prime_ids, length, sampling, seed if k == 0 or seed is None else (seed, k), k)
                   for k in range(num_samples)]
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
            print(f"lstmgen: internal error in the generation engine: {self.error} (its streams were ended; "
                  "LSTMGEN_DEBUG=1 shows the traceback)", file=sys.stderr, flush=True)
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
        blas = _Blas(self.blas_threads)
        try:
            while True:
                with self._cv:
                    while not self._stop and not self._pending and not any(
                            b.streams for b in self._batches.values()):
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
            s._sync.set()
            event = s._async
            # an event already set needs no call into its loop: a reader that is busy or pausing between sends
            # costs nothing per step (a reader clears its event before taking text, so no wake-up is lost)
            if s._loop is not None and not event.is_set():
                loops[s._loop].append(event)
        for loop, events in loops.items():
            try:
                loop.call_soon_threadsafe(_set_all, events)
            except RuntimeError:  # that loop is closed: its reader is gone
                pass


def _set_all(events: list[asyncio.Event]) -> None:
    for e in events:
        e.set()
