"""`lstmgen.evaluate`: a model's loss on any text (nats, bits/char, perplexity) and the novelty of its samples."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from lstmgen.util.output import Output, using


@dataclass(frozen=True)
class Evaluation:
    """What `lstmgen eval --json` prints, with the loss figures as attributes.

    >>> ev = lstmgen.evaluate("runs/book", "chapter12.txt")     # doctest: +SKIP
    >>> round(ev.bits_per_char, 3), ev.predictions              # doctest: +SKIP
    (2.197, 18944)
    """

    model: str
    which: str
    run: str
    nats: float | None = None  # mean loss per predicted character (None with loss=False)
    bits_per_char: float | None = None
    perplexity: float | None = None
    stateful_nats: float | None = None  # with the LSTM state carried through the text (`streams` pieces)
    predictions: int = 0
    text: str = ""  # what the loss was taken on
    unknown_chars: int = 0  # characters of the text outside the vocabulary (dropped)
    novelty: dict | None = None
    reber: dict | None = None
    raw: dict = field(default_factory=dict, repr=False)

    def to_json(self) -> dict:
        """The full result as plain JSON-able data (the same object `lstmgen eval --json` prints)."""
        return self.raw


def evaluate(
    target: Any,
    *texts: str | os.PathLike,
    which: str = "best",
    generate: int = 0,
    length: int = 500,
    temperature: float = 0.8,
    seed: int | None = None,
    ngram: int = 20,
    loss: bool = True,
    samples_file: str | None = None,
    streams: int | None = None,
    window: int | None = None,
    progress: bool | None = True,
    verbose: int = 0,
) -> Evaluation:
    """Evaluate the model of a Run (or run directory, or .keras file in one) on `texts`, by default on the run's
    own validation split; `generate=N` also samples N texts and reports how much of them is copied from the
    training text (and, for a Reber-grammar model, the share of valid strings). `streams`: the loss with the LSTM
    state carried through that many contiguous pieces of the text, in `.stateful_nats` (default: the run's
    `stateful_val_streams`; 0: off). `window`: the length of the windows of the windowed loss (default: the run's
    `seq_len`, as in training validation); give two runs the same window to compare runs trained on different
    lengths.

    >>> lstmgen.evaluate(run).nats                               # doctest: +SKIP
    1.4821
    """
    from lstmgen.evaluation.evaluate import evaluate as run_evaluate

    with using(Output(verbose=verbose, progress=progress)):
        raw = run_evaluate(
            os.fspath(target),
            [os.fspath(t) for t in texts],
            which=which,
            samples_file=samples_file,
            generate=generate,
            length=length,
            temperature=temperature,
            seed=seed,
            ngram=ngram,
            loss=loss,
            streams=streams,
            window=window,
        )
    lo = raw.get("loss") or {}
    return Evaluation(
        model=raw["model"],
        which=raw["which"],
        run=raw["run"],
        nats=lo.get("nats"),
        bits_per_char=lo.get("bits_per_char"),
        perplexity=lo.get("perplexity"),
        stateful_nats=(lo.get("stateful") or {}).get("nats"),
        predictions=int(lo.get("predictions", 0)),
        text=str(lo.get("text", "")),
        unknown_chars=int((lo.get("unknown") or {}).get("count", 0)),
        novelty=raw.get("novelty"),
        reber=raw.get("reber"),
        raw=raw,
    )
