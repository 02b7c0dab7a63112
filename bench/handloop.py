"""lstmgen's training throughput next to a minimal hand-written Keras loop, same model, same machine, one run.

The hand-written loop is what a user would write without lstmgen: `build_model`'s network, Adam with the same
schedule and clipping, a `tf.function` step with `GradientTape`, batches of random windows sliced from the
encoded corpus in NumPy, and the same thread count lstmgen picks. lstmgen is the real CLI
(`lstmgen train CORPUS --config cpu`) in a fresh process, with everything it does per step (PyDataset,
progress/checkpoint/stop callbacks, logging); its rate is read from train.log's progress lines of the second epoch
(steady state; epoch ends with validation and samples excluded).
Both run in float32 and in mixed_bfloat16, alternating, `--repeats` times; medians are reported.

Target (issue #5): lstmgen within 1.5× of the hand-written loop, i.e. hand / lstmgen ≤ 1.5.

    python bench/handloop.py                 # tinyshakespeare, CPU default config, 200 timed steps
    python bench/handloop.py --steps 60 --repeats 1   # quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from clirate import train_chars_per_s  # noqa: E402
from report import save_json  # noqa: E402


def hand_loop(text: str, policy: str, steps: int, warmup: int) -> float:
    """Characters per second of a minimal GradientTape loop over the CPU default model."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import numpy as np

    from lstmgen.config import Config
    from lstmgen.runtime.backend import import_tensorflow, keras, set_threads
    from lstmgen.training.model import build_model, learning_rate

    tf = import_tensorflow()  # after lstmgen's backend module, which quiets TensorFlow's start-up first
    set_threads(0)  # the same thread count lstmgen picks, so only the training machinery differs

    cfg = Config()
    chars = sorted(set(text))
    lut = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((lut[c] for c in text), dtype=np.int32, count=len(text))
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(1)
    model = build_model(cfg, len(chars))
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate(cfg, 10_000), global_clipnorm=cfg.clipnorm)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    rng = np.random.default_rng(0)
    span = cfg.seq_len + 1
    offsets = np.arange(span)

    def batch():
        starts = rng.integers(0, len(ids) - span, size=cfg.batch_size)
        w = ids[starts[:, None] + offsets]
        return w[:, :-1], w[:, 1:]

    for _ in range(warmup):
        loss = train_step(*batch())
    float(loss)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = train_step(*batch())
    float(loss)  # wait for the last step
    seconds = time.perf_counter() - t0
    keras.mixed_precision.set_global_policy("float32")
    return steps * cfg.batch_size * cfg.seq_len / seconds


def lstmgen_run(corpus: Path, precision: str, steps: int, warmup: int) -> float:
    """Characters per second of `lstmgen train --config cpu` (epoch 2, steady state), TensorFlow backend."""
    from lstmgen.config import Config

    cfg = Config()
    return train_chars_per_s(
        corpus,
        ["--config", "cpu", "--mixed-precision", precision, "--seed", "1"],
        cfg.batch_size,
        cfg.seq_len,
        steps,
        warmup,
        env={"KERAS_BACKEND": "tensorflow"},
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(REPO / "../shared/data/tinyshakespeare.txt"))
    p.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default=str(HERE / "results" / "handloop.json"))
    a = p.parse_args()
    corpus = Path(a.corpus).resolve()
    text = corpus.read_text(encoding="utf-8")
    rows = []
    for policy, precision in (("float32", "off"), ("mixed_bfloat16", "bf16")):
        hand, ours = [], []
        for r in range(a.repeats):
            hand.append(hand_loop(text, policy, a.steps, a.warmup))
            ours.append(lstmgen_run(corpus, precision, a.steps, a.warmup))
            print(
                f"{policy:<15} repeat {r + 1}: hand-written {hand[-1]:>9,.0f} chars/s   lstmgen {ours[-1]:>9,.0f} "
                f"chars/s",
                flush=True,
            )
        h, o = statistics.median(hand), statistics.median(ours)
        rows.append(
            {
                "policy": policy,
                "hand_chars_per_s": hand,
                "lstmgen_chars_per_s": ours,
                "hand_median": h,
                "lstmgen_median": o,
                "hand_over_lstmgen": h / o,
            }
        )
    print(f"\n{'precision':<15} {'hand-written loop':>18} {'lstmgen train':>14} {'hand / lstmgen':>15}  target <= 1.5")
    for r in rows:
        print(
            f"{r['policy']:<15} {r['hand_median']:>12,.0f} c/s {r['lstmgen_median']:>10,.0f} c/s "
            f"{r['hand_over_lstmgen']:>14.2f}×  {'PASS' if r['hand_over_lstmgen'] <= 1.5 else 'FAIL'}"
        )
    from importlib.metadata import version

    save_json(
        Path(a.out),
        {
            "corpus": str(corpus),
            "steps": a.steps,
            "warmup": a.warmup,
            "versions": {"tensorflow": version("tensorflow"), "keras": version("keras")},
            "rows": rows,
        },
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
