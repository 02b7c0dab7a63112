"""One generation request's stream, and one model's batch of streams stepped together (for `lstmgen.generation.engine`).

A stream holds its own sampling settings, random generator, pending prime characters and produced text; the batch
holds the LSTM state, one row per stream, and advances every stream by one character per `step`.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from lstmgen.generation.sample import SINGLE_THREAD_BELOW, Sampling, probabilities

if TYPE_CHECKING:
    from lstmgen.generation.engine import Model


class Stream:
    """One sample being generated; `cancel()` stops it at once. A stream made outside an event loop is iterated
    (`for chunk in stream`), one made inside an event loop is read there (`async for chunk in stream.chunks()`)."""

    last: int  # the id sampled last: set by Batch.step when it samples, fed back once the prime is used up

    def __init__(self, model: Model, prime_ids: np.ndarray, length: int, sampling: Sampling, seed, index: int = 0):
        self.model, self.sampling, self.index = model, sampling, index
        self.key = _key(sampling)  # streams with equal keys are sampled as one block
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
            self._async: asyncio.Event | None = asyncio.Event()  # set while _loop is
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


class Batch:
    """The streams of one model and their LSTM state, one row each."""

    def __init__(self, model: Model):
        self.model = model
        self.streams: list[Stream] = []
        self.state = model.step_model.zero_state(0)

    def admit(self, new: list[Stream]) -> None:
        keep = [not (s.cancelled or s.done) for s in self.streams]
        if not all(keep):
            self.streams = [s for s, k in zip(self.streams, keep, strict=True) if k]
            self.state = [(h[keep], c[keep]) for h, c in self.state]
        if new:
            self.streams += new
            zero = self.model.step_model.zero_state(len(new))
            self.state = [
                (np.concatenate([h, h0]), np.concatenate([c, c0]))
                for (h, c), (h0, c0) in zip(self.state, zero, strict=True)
            ]

    def step(self) -> list[Stream]:
        """Feed every stream its next input (a prime character or its last sample), sample the ready ones."""
        streams = self.streams
        ids = np.fromiter((s.inputs.pop(0) if s.inputs else s.last for s in streams), np.int64, len(streams))
        logits, self.state = self.model.step_model.step(ids, self.state)
        ready = [k for k, s in enumerate(streams) if not s.inputs and not s.cancelled]
        groups = defaultdict(list)
        for k in ready:
            groups[streams[k].key].append(k)
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
            for k, pick in zip(rows, picks.tolist(), strict=True):
                s = streams[k]
                s.last = pick
                s.remaining -= 1
                s.produced += 1
                with s._lock:
                    s._buf.append(chars[pick])
                    s.done = s.remaining <= 0
        return [streams[k] for k in ready]


class Blas:
    """BLAS threads for a batch, as `sample.generate_ids` picks them: one below SINGLE_THREAD_BELOW streams (more only
    add hand-off latency there), the library's default above; or a fixed count. Changed only when the choice does."""

    def __init__(self, fixed: int | None):
        self.fixed, self.limiter = fixed, None
        self.single: bool | None = None  # the choice in force; None: the library's original limits

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
