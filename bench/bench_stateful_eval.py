"""The stateful validation loss (the state carried through the text) against the windowed one, and what cutting the
text into N pieces scored side by side costs in accuracy and saves in time.

The papers' figure carries the state through the whole split in one pass (N = 1); lstmgen's default is
N = stateful_val_streams = 16. Default model and text: builtin:english on the last 100,000 characters of War and
Peace (inside the base's own validation split, so never trained on).

Each N is also scored the way lstmgen did before `StepModel.forward` (one `step` per character, as generation
steps), in the same run, so the "×" column is the speed-up of scoring a layer at a time.

    python bench/bench_stateful_eval.py
    python bench/bench_stateful_eval.py --model runs/shake --text ../shared/data/tinyshakespeare.txt --chars 111540
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from report import save_json

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"


class Stepwise:
    """A step model whose `forward` takes one `step` per character, the way scoring worked before `forward`: fed to
    `stateful_loss`, it scores the same pieces in the same chunks, so only the per-layer products differ."""

    def __init__(self, step_model):
        self.step_model = step_model

    def zero_state(self, batch: int) -> list:
        return self.step_model.zero_state(batch)

    def forward(self, ids: np.ndarray, state: list) -> tuple[np.ndarray, list]:
        out = []
        for row in ids:
            logits, state = self.step_model.step(row, state)
            out.append(logits)
        return np.stack(out), state


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="builtin:english", help="RUN_DIR, MODEL.keras or builtin:NAME")
    ap.add_argument("--text", default=str(SHARED / "warandpeace.txt"))
    ap.add_argument("--chars", type=int, default=100_000, help="score the last CHARS characters of the text")
    ap.add_argument("--streams", default="1,4,16,64,256")
    ap.add_argument("--out", default=str(HERE / "results" / "stateful_eval.json"))
    args = ap.parse_args()

    from lstmgen.evaluation.loss import loss_on, text_to_ids
    from lstmgen.generation.generate import load_keras_model
    from lstmgen.generation.sample import StepModel
    from lstmgen.generation.scoring import stateful_loss
    from lstmgen.runs.rundata import run_vocab
    from lstmgen.runs.rundir import RunDir
    from lstmgen.runs.runmodel import pick_model

    choice = pick_model(args.model, "best")
    run = RunDir(choice.run)
    cfg = run.saved_config()
    vocab = run_vocab(choice.run, run.info(), print)
    text = Path(args.text).read_text(encoding="utf-8")[-args.chars :]
    ids, unknown = text_to_ids(text, vocab, bool(cfg["lowercase"]))
    result: dict = {"model": args.model, "text": f"last {args.chars:,} characters of {Path(args.text).name}"}
    result["predictions"], result["unknown"] = int(ids.size - 1), unknown["count"]

    keras_model = load_keras_model(choice.path)
    t0 = time.perf_counter()
    windowed = loss_on(keras_model, ids, int(cfg["seq_len"]), int(cfg["val_batch_size"]))
    result["windowed"] = {"seq_len": int(cfg["seq_len"]), "nats": windowed["nats"], "seconds": time.perf_counter() - t0}
    took = result["windowed"]["seconds"]
    print(f"windowed (seq_len {cfg['seq_len']}, Keras): {windowed['nats']:.4f} nats in {took:.1f}s")

    step_model = StepModel.from_keras(keras_model)  # the weights scored windowed above
    rows = []
    for n in (int(s) for s in args.streams.split(",")):
        t0 = time.perf_counter()
        r = stateful_loss(step_model, np.asarray(ids), n)
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        stepwise = stateful_loss(Stepwise(step_model), np.asarray(ids), n)["nats"]
        step_s = time.perf_counter() - t0
        rows.append({"streams": n, "nats": r["nats"], "seconds": seconds, "stepwise_seconds": step_s})
        print(
            f"stateful, {n:>4} stream(s): {r['nats']:.4f} nats  ({r['nats'] - windowed['nats']:+.4f} vs windowed) "
            f"in {seconds:.1f}s = {r['predictions'] / seconds:,.0f} chars/s; a step per character: {step_s:.1f}s "
            f"({step_s / seconds:.2f}×, {stepwise - r['nats']:+.1e} nats)"
        )
    result["stateful"] = rows
    one = next((r for r in rows if r["streams"] == 1), None)
    if one:
        for r in rows:
            r["vs_one_stream"] = r["nats"] - one["nats"]
            r["speedup_vs_one_stream"] = one["seconds"] / r["seconds"]
    save_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
