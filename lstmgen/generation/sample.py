"""Generation: the trained LSTM stepped one character at a time in NumPy, carrying (h, c), plus the samplers.

The step model is built from the Keras model's weights once; priming costs one step per prime character and each
new character costs one step, never a re-run over a window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from lstmgen.errors import LstmgenError
from lstmgen.util.limits import TEMPERATURE, TOP_K, check_range

# Below this many streams a step is a few tiny matrix products: BLAS threads only add hand-off latency and
# make the rate swing 10× when another process is busy (bench/bench_spine.py), so one thread is used.
SINGLE_THREAD_BELOW = 16


@dataclass
class Sampling:
    temperature: float = 1.0
    top_k: int = 0  # 0: off
    top_p: float = 1.0  # 1: off
    greedy: bool = False

    def check(self) -> Sampling:
        check_range("--temperature", self.temperature, *TEMPERATURE, fix="use --greedy for argmax")
        check_range("--top-p", self.top_p, 0.0, 1.0, "(]", fix="1 turns it off")
        check_range("--top-k", self.top_k, *TOP_K, fix="0 turns it off")
        return self


def probabilities(logits: np.ndarray, s: Sampling) -> np.ndarray:
    """Row-wise sampling distribution after temperature, top-k and top-p filtering."""
    z = logits.astype(np.float64) / s.temperature
    if s.top_k and s.top_k < z.shape[-1]:
        kth = np.partition(z, -s.top_k, axis=-1)[:, -s.top_k][:, None]
        z = np.where(z >= kth, z, -np.inf)
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    if s.top_p < 1.0:
        order = np.argsort(-p, axis=-1)
        sorted_p = np.take_along_axis(p, order, axis=-1)
        # keep the smallest prefix whose mass reaches top_p (the first token is always kept)
        keep_sorted = (np.cumsum(sorted_p, axis=-1) - sorted_p) < s.top_p
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        p = np.where(keep, p, 0.0)
        p /= p.sum(axis=-1, keepdims=True)
    return p


def choose(logits: np.ndarray, s: Sampling, rng: np.random.Generator) -> np.ndarray:
    if s.greedy:
        return logits.argmax(axis=-1)
    p = probabilities(logits, s)
    u = rng.random((p.shape[0], 1))
    idx = (np.cumsum(p, axis=-1) < u).sum(axis=-1)
    return np.minimum(idx, p.shape[-1] - 1)


class StepModel:
    """Embedding → LSTM stack → Dense as NumPy arrays (Keras gate order i, f, c, o)."""

    def __init__(self, embedding, lstm_weights, dense_kernel, dense_bias):
        self.units = [r.shape[0] for _, r, _ in lstm_weights]
        self.layers = []
        for n, (kernel, recurrent, bias) in enumerate(lstm_weights):
            u = recurrent.shape[0]
            # Pre-halve the sigmoid gates so one tanh serves all four: sigmoid(z) = 0.5 * tanh(z / 2) + 0.5.
            scale = np.concatenate([np.full(2 * u, 0.5), np.ones(u), np.full(u, 0.5)]).astype(np.float32)
            if n == 0:  # the first layer's input term is a table lookup: embedding @ kernel + bias per id
                table = ((embedding @ kernel + bias) * scale).astype(np.float32)
                self.layers.append((table, (recurrent * scale).astype(np.float32), None))
            else:
                stacked = (np.concatenate([kernel, recurrent]) * scale).astype(np.float32)
                self.layers.append((stacked, None, (bias * scale).astype(np.float32)))
        self.dense_kernel = dense_kernel.astype(np.float32)
        self.dense_bias = dense_bias.astype(np.float32)
        self.vocab_size = self.dense_kernel.shape[1]

    @classmethod
    def from_keras(cls, model) -> StepModel:
        from lstmgen.runtime.backend import keras  # already loaded: `model` is a Keras model

        def arr(v):
            return np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float32)

        emb = arr(model.get_layer("embedding").embeddings)
        lstms = []
        for layer in (x for x in model.layers if isinstance(x, keras.layers.LSTM)):
            cell = layer.cell
            lstms.append((arr(cell.kernel), arr(cell.recurrent_kernel), arr(cell.bias)))
        dense = model.get_layer("logits")
        return cls(emb, lstms, arr(dense.kernel), arr(dense.bias))

    def zero_state(self, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.zeros((batch, u), np.float32), np.zeros((batch, u), np.float32)) for u in self.units]

    def step(self, ids: np.ndarray, state: list) -> tuple[np.ndarray, list]:
        """One character for each stream: ids (batch,) → logits (batch, vocab), new state."""
        new_state = []
        x = None
        for n, ((h, c), (w, recurrent, bias)) in enumerate(zip(state, self.layers, strict=True)):
            if n == 0:
                z = w[ids] + h @ recurrent
            else:
                z = np.concatenate([x, h], axis=1) @ w + bias
            h, c = _cell(z, c)
            new_state.append((h, c))
            x = h
        return x @ self.dense_kernel + self.dense_bias, new_state

    def forward(self, ids: np.ndarray, state: list) -> tuple[np.ndarray, list]:
        """Logits for known inputs, ids (time, batch) → (time, batch, vocab), and the state after the last step.

        The same numbers as `step` over each time step, computed a layer at a time: every input term of a layer
        (its input projection for all steps) is one large matrix product, so the per-step work is only the
        recurrent product. For scoring a text, where the inputs are known in advance; `step` is for sampling.
        """
        steps, batch = ids.shape
        x = np.empty((steps, batch, 0), np.float32)
        new_state = []
        for n, ((h, c), (w, recurrent, bias)) in enumerate(zip(state, self.layers, strict=True)):
            if n == 0:
                inputs, rec = w[ids], recurrent  # (time, batch, 4u) by table lookup
            else:
                k = x.shape[-1]
                inputs, rec = (x.reshape(steps * batch, k) @ w[:k] + bias).reshape(steps, batch, -1), w[k:]
            x = np.empty((steps, batch, h.shape[1]), np.float32)
            for t in range(steps):
                h, c = _cell(inputs[t] + h @ rec, c)
                x[t] = h
            new_state.append((h, c))
        logits = x.reshape(steps * batch, -1) @ self.dense_kernel + self.dense_bias
        return logits.reshape(steps, batch, -1), new_state

    def run(self, ids: np.ndarray) -> np.ndarray:
        """Logits for a whole (batch, time) sequence from a zero state, one step at a time."""
        state = self.zero_state(ids.shape[0])
        out = []
        for t in range(ids.shape[1]):
            logits, state = self.step(ids[:, t], state)
            out.append(logits)
        return np.stack(out, axis=1)


def _cell(z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM cell update from the pre-scaled gate inputs `z` (batch, 4u) and the cell state: the new (h, c)."""
    u = c.shape[1]
    t = np.tanh(z)
    gates = 0.5 * t[:, : 2 * u] + 0.5
    i, f = gates[:, :u], gates[:, u:]
    o = 0.5 * t[:, 3 * u :] + 0.5
    c = f * c + i * t[:, 2 * u : 3 * u]
    return o * np.tanh(c), c


def check_generation(step_model: StepModel, n: int, length: int, memory: int) -> None:
    """Refuse a batch of `n` streams × `length` characters whose arrays would not fit in half of `memory` bytes:
    the ids kept until the end, the float64 sampling arrays (a few per vocabulary entry) and the LSTM state."""
    need = n * (8 * length + 48 * step_model.vocab_size + 48 * sum(step_model.units))
    if memory and need > memory / 2:
        raise LstmgenError(
            f"{n} samples × {length:,} characters need about {need / 2**30:.1f} GiB, more than half of "
            f"this machine's {memory / 2**30:.1f} GiB; lower --num-samples or --length"
        )


def generate_ids(
    step_model: StepModel, prime_ids: np.ndarray, length: int, n: int, sampling: Sampling, seed: int | None
) -> Iterator[np.ndarray]:
    """Yield one new id per stream per step, `length` times. The prime is fed once to build the state."""
    with threadpool_limits(limits=1 if n < SINGLE_THREAD_BELOW else None, user_api="blas"):
        yield from _generate_ids(step_model, prime_ids, length, n, sampling, seed)


def _generate_ids(step_model, prime_ids, length, n, sampling, seed):
    rng = np.random.default_rng(seed)
    state = step_model.zero_state(n)
    logits = None
    for cid in prime_ids:
        logits, state = step_model.step(np.full(n, cid, dtype=np.int64), state)
    if logits is None:  # no usable prime: start from a uniformly random character
        ids = rng.integers(step_model.vocab_size, size=n)
        logits, state = step_model.step(ids, state)
    for _ in range(length):
        ids = choose(logits, sampling, rng)
        yield ids
        logits, state = step_model.step(ids, state)


def generate_text(
    step_model: StepModel,
    decode: Callable[[list[int]], str],
    prime_ids: np.ndarray,
    length: int,
    n: int,
    sampling: Sampling,
    seed: int | None,
    on_step: Callable[[np.ndarray], None] | None = None,
) -> list[str]:
    """Return `n` generated continuations (prime not included); `on_step` sees each step's ids as they come."""
    columns = []
    for ids in generate_ids(step_model, prime_ids, length, n, sampling, seed):
        columns.append(ids)
        if on_step is not None:
            on_step(ids)
    if not columns:
        return [""] * n
    table = np.stack(columns, axis=1)
    return [decode(row.tolist()) for row in table]
