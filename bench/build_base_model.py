"""Rebuild the built-in base model `builtin:english` (lstmgen/models/english/) with lstmgen's own `train`.

What goes in: builtin:pydocs (the English docstrings of the running Python's standard library, ~1.4 MB: technical
prose), then tinyshakespeare (1.1 MB) and War and Peace (3.2 MB), both public domain, read from ../shared/data (never
copied into the repository). The last 10 % of the concatenation (the end of War and Peace) is the base's own
validation split. `--no-pydocs` leaves the docstrings out (the recipe of the first shipped model).
Recipe: --config cpu (Embedding 64 → 2 × LSTM 256 → Dense), --epochs 12,
--seed 1; any backend (the .keras file is backend-neutral; torch with the fused kernel is fastest on a CPU).

The shipped file holds weights only (no optimizer state) and is checked at three storage precisions: float32,
and the same weights rounded to float16 and to bfloat16 (stored in float32 tensors, so any Keras loads them, but
their low mantissa bits are zero and the wheel's and git's compression shrinks them). The roundest one whose
validation loss is within TOLERANCE nats of float32 is shipped; card.json records all three.

    python bench/build_base_model.py                       # prepare + train (~40 min on a quiet 2-core box) + export
    python bench/build_base_model.py --skip-train          # export again from WORK/run
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
TEXTS = ("tinyshakespeare.txt", "warandpeace.txt")
PYDOCS = "builtin:pydocs"
TOLERANCE = 0.002  # nats: a rounding that costs less than this is free
NAME = "english"


def lstmgen(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "lstmgen", *args], check=True, capture_output=True, text=True)
    return out.stdout


def round_to(a: np.ndarray, storage: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    if storage == "float16":
        return a.astype(np.float16).astype(np.float32)
    if storage == "bfloat16":  # round to nearest even on the top 16 bits
        bits = a.view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.astype(np.uint32).view(np.float32)
    return a


def export(run: Path, out: Path, storage: str) -> dict:
    """A weights-only copy of RUN's best model at `storage` precision, as a run directory at OUT; its sizes."""
    import keras

    from lstmgen.config import make_config
    from lstmgen.runs.kerasfile import Weights, read_weights
    from lstmgen.runs.rundir import RunDir
    from lstmgen.training.model import build_model, set_weights

    w = read_weights(run / "best.keras")
    rounded = Weights(
        round_to(w.embedding, storage),
        [tuple(round_to(a, storage) for a in c) for c in w.cells],
        round_to(w.kernel, storage),
        round_to(w.bias, storage),
    )
    cfg = make_config(None, None, base=RunDir(run).saved_config())
    keras.mixed_precision.set_dtype_policy("float32")
    model = build_model(cfg, rounded.embedding.shape[0])
    set_weights(model, rounded)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save(out / "best.keras")
    for name in ("config.yaml", "vocab.json", "run.json"):
        shutil.copy(run / name, out / name)
    raw = (out / "best.keras").read_bytes()
    return {"bytes": len(raw), "deflated_bytes": len(zlib.compress(raw, 6))}


def val_loss(run_dir: Path) -> float:
    return json.loads(lstmgen("eval", str(run_dir), "--json", "-q"))["loss"]["nats"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--work", type=Path, default=Path("/tmp/lstmgen-base"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--no-pydocs", action="store_true", help="train on the two books only")
    ap.add_argument("--out", type=Path, default=REPO / "lstmgen" / "models" / NAME)
    args = ap.parse_args()
    corpus, run = args.work / "corpus", args.work / "run"
    texts = ([] if args.no_pydocs else [PYDOCS]) + [str(args.data / t) for t in TEXTS]
    if not args.skip_train:
        lstmgen("prepare", *texts, "-o", str(corpus), "-q")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "lstmgen",
                "train",
                str(corpus),
                "--config",
                "cpu",
                "--epochs",
                str(args.epochs),
                "--seed",
                "1",
                "-o",
                str(run),
            ],
            check=True,
        )
    results = {}
    for storage in ("float32", "float16", "bfloat16"):
        d = args.work / f"export-{storage}"
        results[storage] = {**export(run, d, storage), "val_loss": val_loss(d)}
        print(storage, results[storage], flush=True)
    exact = results["float32"]["val_loss"]
    chosen = min(
        (s for s in results if results[s]["val_loss"] - exact <= TOLERANCE), key=lambda s: results[s]["deflated_bytes"]
    )
    meta = json.loads((corpus / "meta.json").read_text())
    info = json.loads((run / "run.json").read_text())
    state = max(
        (json.loads(p.read_text()) for p in (run / "checkpoints").glob("*.json")), key=lambda s: s["global_step"]
    )
    card = {
        "name": f"builtin:{NAME}",
        "storage": chosen,
        "storage_tolerance_nats": TOLERANCE,
        "precisions": results,
        "trained_on": [
            {"source": t, "python": sys.version.split()[0]}
            if t == PYDOCS
            else {"file": Path(t).name, "bytes": Path(t).stat().st_size}
            for t in texts
        ],
        "data_sha256": meta["sha256"],
        "chars": meta["n_chars"],
        "train_chars": meta["n_train"],
        "val_chars": meta["n_val"],
        "validation": "the last 10 % of the concatenation (the end of War and Peace)",
        "recipe": f"lstmgen train CORPUS --config cpu --epochs {args.epochs} --seed 1",
        "epochs": state["epoch"],
        "global_step": state["global_step"],
        "best_epoch": state["best_epoch"],
        "best_val_loss": exact,
        "train_seconds": state["train_seconds"],
        "config": state["config"],
        "rebuild": "python bench/build_base_model.py",
    }
    out = args.out
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(args.work / f"export-{chosen}", tmp)
    info.update(
        {
            "source": f"builtin:{NAME}: {' + '.join(t if t == PYDOCS else Path(t).name for t in texts)}",
            "prepared": None,
            "builtin": True,
            "best_val_loss": results[chosen]["val_loss"],
        }
    )
    (tmp / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    print(
        f"shipped {chosen} ({results[chosen]['bytes']:,} bytes, {results[chosen]['deflated_bytes']:,} deflated) "
        f"to {out}; val loss {results[chosen]['val_loss']:.4f} (float32 {exact:.4f})"
    )


if __name__ == "__main__":
    main()
