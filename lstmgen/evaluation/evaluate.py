"""`lstmgen eval`: a model's loss on any text (nats, bits/char, perplexity), the novelty of its samples against the
training corpus, and for Reber-trained models the share of valid strings."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from lstmgen.config import RANGES
from lstmgen.errors import LstmgenError
from lstmgen.evaluation.loss import loss_on, text_to_ids
from lstmgen.evaluation.samples import REBER_VOCAB, generate_samples, novelty_report, read_samples, reber_report
from lstmgen.generation.generate import check_generate_options
from lstmgen.generation.sample import Sampling, StepModel
from lstmgen.generation.scoring import stateful_loss
from lstmgen.runs.rundata import run_data, run_vocab
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.runfiles import stat_or_none
from lstmgen.runs.runmodel import pick_model
from lstmgen.runs.state import TrainState
from lstmgen.util.limits import LENGTH, NGRAM, check_range
from lstmgen.util.output import current

FIX = "pass TEXT files to evaluate on, or restore the source"  # when the run's training data is gone


def which_checkpoint(model: Path, run: RunDir, loaded: os.stat_result | None = None) -> TrainState | None:
    """The checkpoint state of the model file (best.keras and latest.keras are links to a checkpoint).

    `loaded`: the file as it was loaded (the link may have moved on since). While the run trains, a checkpoint can
    be committed or pruned between looking at the link and listing: that is looked at again, twice at most."""
    for _ in range(3):
        try:
            target = loaded or os.stat(model)
        except OSError:
            return None
        for path, state in run.checkpoints():
            with contextlib.suppress(OSError):
                if os.path.samestat(os.stat(path), target):
                    return state
    return None


# --- the command --------------------------------------------------------------------------------------------------
def evaluate(
    target: str,
    texts: list[str],
    *,
    which: str = "best",
    samples_file: str | None = None,
    generate: int = 0,
    length: int = 500,
    temperature: float = 0.8,
    seed: int | None = None,
    ngram: int = 20,
    loss: bool = True,
    streams: int | None = None,
    window: int | None = None,
) -> dict:
    check_generate_options(length, generate, seed, samples_name="--generate", min_samples=0)
    check_range("--length", length, 1, LENGTH[1])
    check_range("--ngram", ngram, *NGRAM)
    if streams is not None:
        check_range("--streams", streams, *RANGES["stateful_val_streams"], fix="0 turns the stateful loss off")
    if window is not None:
        check_range("--window", window, *RANGES["seq_len"], fix="the run's seq_len is the default")
    Sampling(temperature=temperature).check()
    if samples_file and generate:
        raise LstmgenError("give --samples FILE or --generate N, not both")
    if texts and not loss:
        raise LstmgenError("TEXT files are only used for the loss; drop --no-loss or the TEXT arguments")
    if samples_file == "-" and "-" in texts:
        raise LstmgenError("stdin ('-') can feed TEXT or --samples, not both")
    choice = pick_model(target, which)
    model_path, run_path = choice.path, choice.run
    run = RunDir(run_path)
    info = run.info()
    if choice.note:
        current().say(choice.note)
    cfg = run.saved_config()
    vocab = run_vocab(run_path, info, current().say)
    data = None
    model = loaded = None
    if loss and texts:  # inputs are read (and refused) before the model is loaded
        from lstmgen.data.sources import read_sources

        text, text_info = read_sources(list(texts))
    sample_texts = read_samples(samples_file, vocab) if samples_file else None
    if loss:
        from lstmgen.generation.generate import load_keras_model

        t0 = time.monotonic()
        for _ in range(2):  # best.keras replaced by a trainer while it was loaded: load it again
            loaded = stat_or_none(model_path)
            model = load_keras_model(model_path)
            now = stat_or_none(model_path)
            if loaded is None or now is None or os.path.samestat(loaded, now):
                break
        current().detail(f"loaded {model_path} in {time.monotonic() - t0:.1f}s")
    state = which_checkpoint(model_path, run, loaded)
    out: dict[str, Any] = {
        "model": str(model_path),
        "which": choice.which,
        "run": str(run_path),
        "checkpoint": {"epoch": state.epoch, "global_step": state.global_step, "best_val_loss": state.best_val_loss}
        if state
        else None,
    }
    if loss:
        if texts:
            ids, unknown = text_to_ids(text, vocab, bool(cfg["lowercase"]))
            described, n_chars = ", ".join(text_info["sources"]), len(text)
        else:
            data = run_data(run_path, info, val_fraction=cfg["val_fraction"], lowercase=cfg["lowercase"], fix=FIX)
            if len(data.val) < 2:
                raise LstmgenError(
                    f"run '{run_path}' has no validation split to evaluate on (its data was prepared "
                    f"with val_fraction {cfg['val_fraction']}); pass TEXT files to evaluate on"
                )
            ids, unknown = np.asarray(data.val), {"count": 0, "chars": []}
            described, n_chars = f"validation split of {run_path}", int(ids.size)
        t0 = time.monotonic()
        result = loss_on(model, ids, window or int(cfg["seq_len"]), int(cfg["val_batch_size"]))
        current().detail(f"evaluated {result['predictions']:,} predictions in {time.monotonic() - t0:.1f}s")
        out["loss"] = {"text": described, "chars": n_chars, "unknown": unknown, **result}
        n_streams = int(cfg["stateful_val_streams"]) if streams is None else streams
        if n_streams:  # the weights just loaded, not the file again: a trainer may have replaced it since
            t0 = time.monotonic()
            out["loss"]["stateful"] = stateful_loss(StepModel.from_keras(model), ids, n_streams)
            current().detail(f"evaluated them with the state carried in {time.monotonic() - t0:.1f}s")
    if generate:
        sample_texts = generate_samples(model_path, vocab, generate, length, temperature, seed)
        out["generated"] = {"samples": generate, "length": length, "temperature": temperature, "seed": seed}
    if sample_texts is not None:
        data = data or run_data(run_path, info, val_fraction=cfg["val_fraction"], lowercase=cfg["lowercase"], fix=FIX)
        out["novelty"] = novelty_report(sample_texts, data, ngram)
        if set(vocab.chars) == REBER_VOCAB:
            out["reber"] = reber_report(sample_texts, generated=bool(generate))
    return out


def format_eval(r: dict) -> str:
    ck = r["checkpoint"]
    lines = [f"model       {r['model']}" + (f"  (epoch {ck['epoch']}, step {ck['global_step']:,})" if ck else "")]
    if "loss" in r:
        lo = r["loss"]
        unk = lo["unknown"]
        shown = " ".join(map(repr, unk["chars"][:20])) + (" …" if len(unk["chars"]) > 20 else "")
        lines += [
            f"text        {lo['text']}: {lo['chars']:,} characters",
            f"unknown     {unk['count']:,} characters dropped"
            + (f" ({len(unk['chars'])} distinct: {shown})" if unk["count"] else ""),
            (
                f"evaluated   {lo['predictions']:,} next-character predictions in {lo['windows']:,} windows of "
                f"{lo['seq_len']} (state reset per window, as in training validation)"
            ),
            (
                f"loss        {lo['nats']:.4f} nats/char   {lo['bits_per_char']:.4f} bits/char   "
                f"perplexity {lo['perplexity']:.3f}"
            ),
        ]
        if "stateful" in lo:
            sf = lo["stateful"]
            lines.append(
                f"stateful    {sf['nats']:.4f} nats/char   {sf['bits_per_char']:.4f} bits/char   (the state carried "
                f"through {sf['streams']:,} contiguous piece{'s' if sf['streams'] != 1 else ''} of the text)"
            )
    if "novelty" in r:
        nv = r["novelty"]
        share = "n/a" if nv["ngram_share"] is None else f"{100 * nv['ngram_share']:.1f} %"
        lines += [
            (
                f"samples     {nv['samples']} ({nv['chars']:,} characters) against {nv['train_chars']:,} training "
                "characters"
            ),
            (
                f"copied      longest substring found in the training text: {nv['longest_copy']} characters "
                f"(median per sample {nv['median_longest_copy']:.0f})"
            ),
            f"{nv['ngram']}-grams    {share} of {nv['ngrams']:,} occur in the training text",
        ]
        best = max(nv["per_sample"], key=lambda p: p["longest_copy"], default=None)
        if best and best["longest_copy"]:
            lines.append(f"longest     {best['longest_copy_text'][:200]!r}")
        ref = nv["reference_validation_text"]
        if ref:
            ref_share = "n/a" if ref["ngram_share"] is None else f"{100 * ref['ngram_share']:.1f} %"
            lines.append(
                f"reference   held-out validation text ({ref['chars']:,} characters): longest copy "
                f"{ref['longest_copy']}, {nv['ngram']}-grams in the training text {ref_share}"
            )
    if "reber" in r:
        rb = r["reber"]
        valid = "n/a" if rb["valid_fraction"] is None else f"{100 * rb['valid_fraction']:.1f} %"
        lines.append(f"reber       {valid} of {rb['strings']:,} complete strings are valid embedded Reber strings")
    return "\n".join(lines)
