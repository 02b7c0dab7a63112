"""The naive notebook method (DESIGN.md §1), re-implemented faithfully as the baseline for bench_spine.py.

* every window text[i:i+seq_len] (stride 1) is a row of an int32 matrix, the next char a one-hot float32 row
  (built with a Python loop over lists, as the notebook does — materialising them IS the method);
* Embedding(V,50) → LSTM(128) → Dense(V, softmax), categorical_crossentropy, Adam, batch 128;
  the loss sees only the last position of each window (many-to-one);
* generation calls model.predict on a seq_len-char window for every new character.

Each subcommand prints one JSON object on its last stdout line (bench_spine.py runs them in fresh processes):

    python bench/naive.py windows --corpus ../shared/data/warandpeace.txt [--max-chars N]
    python bench/naive.py train --corpus ... --steps 200 [--warmup 5] [--max-chars N]
    python bench/naive.py generate --model RUN/best.keras --chars 30 --batch 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SEQ_LEN = 100
BATCH = 128


def prepare_windows(text: str, seq_len: int = SEQ_LEN):
    """The notebook's data preparation: (X int32 [n, seq_len], Y one-hot float32 [n, V], chars)."""
    chars = sorted(set(text))
    char_to_int = {c: i for i, c in enumerate(chars)}
    data_x, data_y = [], []
    for i in range(len(text) - seq_len):
        seq_in = text[i : i + seq_len]
        seq_out = text[i + seq_len]
        data_x.append([char_to_int[c] for c in seq_in])
        data_y.append(char_to_int[seq_out])
    x = np.array(data_x, dtype=np.int32)
    y = np.zeros((len(data_y), len(chars)), dtype=np.float32)  # keras.utils.to_categorical, without the import
    y[np.arange(len(data_y)), data_y] = 1.0
    return x, y, chars


def build_model(vocab_size: int):
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, 50),
            keras.layers.LSTM(128),
            keras.layers.Dense(vocab_size, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def train_throughput(x: np.ndarray, y: np.ndarray, steps: int, warmup: int = 5, model=None) -> dict:
    """`model.fit` on warmup + steps batches of 128; supervised chars/s = 128 per step over the timed steps."""
    import keras

    model = model or build_model(y.shape[1])
    stamps = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    n = (warmup + steps) * BATCH
    if len(x) < n:
        raise SystemExit(f"only {len(x)} windows, need {n} for {warmup} + {steps} steps of {BATCH}")
    hist = model.fit(x[:n], y[:n], batch_size=BATCH, epochs=1, shuffle=True, verbose=0, callbacks=[Stamp()])
    seconds = stamps[-1] - stamps[warmup - 1]
    return {
        "steps": steps,
        "warmup": warmup,
        "seconds": seconds,
        "ms_per_step": 1000 * seconds / steps,
        "chars_per_s": BATCH * steps / seconds,
        "loss": float(hist.history["loss"][-1]),
    }


def generate_speed(model, seed_ids, n_chars: int, batch: int = 1, seq_len: int = SEQ_LEN) -> dict:
    """The notebook's loop: predict on the whole window, take the argmax of the last position, slide by one.

    Works for a many-to-one model (output [batch, V]) and for lstmgen's many-to-many model ([batch, time, V]).
    One warm-up call (tracing) is excluded from the timing. chars/s counts all `batch` streams.
    """
    pattern = np.tile(np.asarray(seed_ids[-seq_len:], dtype=np.int32), (batch, 1))

    def next_ids(window):
        pred = model.predict(window, verbose=0)
        if pred.ndim == 3:
            pred = pred[:, -1]
        return pred.argmax(axis=-1).astype(np.int32)

    next_ids(pattern)  # warm-up
    t0 = time.perf_counter()
    for _ in range(n_chars):
        nxt = next_ids(pattern)
        pattern = np.concatenate([pattern[:, 1:], nxt[:, None]], axis=1)
    seconds = time.perf_counter() - t0
    return {"chars": n_chars, "batch": batch, "seconds": seconds, "chars_per_s": batch * n_chars / seconds}


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def read_text(path: str, max_chars: int) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return text[:max_chars] if max_chars else text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("windows", help="time and measure the window materialisation")
    t = sub.add_parser("train", help="training throughput (supervised chars/s)")
    for q in (w, t):
        q.add_argument("--corpus", required=True)
        q.add_argument("--max-chars", type=int, default=0, help="use only the first N characters (0: all)")
    t.add_argument("--steps", type=int, default=200)
    t.add_argument("--warmup", type=int, default=5)
    g = sub.add_parser("generate", help="model.predict-per-character generation speed on a saved .keras model")
    g.add_argument("--model", required=True)
    g.add_argument("--chars", type=int, default=30)
    g.add_argument("--batch", type=int, default=1)
    args = p.parse_args(argv)

    if args.cmd == "windows":
        text = read_text(args.corpus, args.max_chars)
        t0 = time.perf_counter()
        x, y, chars = prepare_windows(text)
        out = {
            "chars": len(text),
            "windows": len(x),
            "vocab": len(chars),
            "seconds": time.perf_counter() - t0,
            "x_gb": x.nbytes / 2**30,
            "y_gb": y.nbytes / 2**30,
        }
    elif args.cmd == "train":
        # Only the windows the timed steps use are materialised: the throughput does not depend on the rest.
        need = (args.warmup + args.steps) * BATCH + SEQ_LEN + 1
        text = read_text(args.corpus, args.max_chars)
        vocab = sorted(set(text))
        x, y, chars = prepare_windows(text[:need])
        if len(chars) < len(vocab):  # keep the full corpus's vocabulary size for the output layer
            y = np.pad(y, ((0, 0), (0, len(vocab) - len(chars))))
        out = train_throughput(x, y, args.steps, args.warmup)
        out["vocab"] = len(vocab)
    else:
        import keras

        model = keras.saving.load_model(args.model, compile=False)
        vocab = model.output_shape[-1]
        seed = np.random.default_rng(0).integers(vocab, size=SEQ_LEN)
        out = generate_speed(model, seed, args.chars, args.batch)
    out["peak_rss_gb"] = peak_rss_gb()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
