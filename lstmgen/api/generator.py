"""`Generator`: a trained model held in memory, sampled as often as you like (`Run.generator()`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from lstmgen.util.output import Output, current, using


class Generator:
    """Samples a trained model. The weights are read once (with h5py, no TensorFlow on the NumPy engine).

    >>> gen = lstmgen.Run("runs/book").generator()                   # doctest: +SKIP
    >>> print(gen.generate("ROMEO:", length=300, temperature=0.7))   # doctest: +SKIP
    >>> for ch in gen.stream("Once", length=500, top_p=0.9):         # doctest: +SKIP
    ...     print(ch, end="", flush=True)
    """

    def __init__(
        self, target: str | os.PathLike | None = None, which: str = "best", engine: str = "auto", verbose: int = 0
    ) -> None:
        """Load the model of a run directory, a `.keras` file in one, or `builtin:NAME` (None: the latest run)."""
        from lstmgen.generation.devicestep import for_engine, pick_engine
        from lstmgen.generation.generate import load

        if which not in ("best", "latest"):
            from lstmgen.errors import ConfigError

            raise ConfigError(f"which must be 'best' or 'latest', got {which!r}")
        with using(Output(verbose=verbose)):
            step_model, self.vocab, choice = load(None if target is None else os.fspath(target), which)
        self.engine = pick_engine(engine)
        self._model = for_engine(step_model, self.engine)
        self.path: Path = Path(choice.path)
        self.which: str = choice.which
        self.verbose = verbose

    @property
    def chars(self) -> str:
        """The characters the model knows, in id order."""
        return "".join(self.vocab.chars)

    def _prepare(
        self,
        prime: str,
        length: int,
        n: int,
        seed: int | None,
        temperature: float,
        top_k: int,
        top_p: float,
        greedy: bool,
    ):
        from lstmgen.generation.generate import check_generate_options, encode_prime
        from lstmgen.generation.sample import Sampling

        sampling = Sampling(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy).check()
        check_generate_options(length, n, seed, length_name="length", samples_name="n")
        with using(Output(verbose=self.verbose)):
            ids, used = encode_prime(self.vocab, prime, current().say)
        return sampling, ids, used

    def stream(
        self,
        prime: str = "",
        length: int = 500,
        *,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        greedy: bool = False,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield `length` characters one at a time as they are sampled after `prime` (the prime is not yielded)."""
        from lstmgen.generation.sample import generate_ids

        sampling, ids, _ = self._prepare(prime, length, 1, seed, temperature, top_k, top_p, greedy)
        chars = self.vocab.chars
        for step in generate_ids(self._model, ids, length, 1, sampling, seed):
            yield chars[int(step[0])]

    def generate(
        self,
        prime: str = "",
        length: int = 500,
        *,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        greedy: bool = False,
        seed: int | None = None,
    ) -> str:
        """The prime followed by `length` sampled characters (characters the model does not know are mapped to
        look-alikes or dropped from the prime)."""
        return self.samples(
            1, prime, length, temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy, seed=seed
        )[0]

    def samples(
        self,
        n: int,
        prime: str = "",
        length: int = 500,
        *,
        temperature: float = 0.8,
        top_k: int = 0,
        top_p: float = 1.0,
        greedy: bool = False,
        seed: int | None = None,
    ) -> list[str]:
        """`n` samples, generated together as one batch (faster than n calls)."""
        from lstmgen.generation.sample import generate_text

        sampling, ids, used = self._prepare(prime, length, n, seed, temperature, top_k, top_p, greedy)
        texts = generate_text(self._model, self.vocab.decode, ids, length, n, sampling, seed)
        return [used + t for t in texts]

    def __repr__(self) -> str:
        return f"Generator({str(self.path)!r}, which={self.which!r}, engine={self.engine!r})"
