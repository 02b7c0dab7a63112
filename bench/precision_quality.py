"""Does mixed_bfloat16 train as well as float32? Same config, same seed, same steps: validation loss side by side.

`mixed_precision: auto` picks bf16 on CPUs with AVX512_BF16/AMX because it is ~2× faster there
(bench/speed_paths.py); issue #5 allows that only if validation loss is not worse. This runs `lstmgen train`
twice on tinyshakespeare with the CPU default config (--mixed-precision off, then bf16), validating every
--steps-per-epoch steps, and compares the curves at equal steps and at equal wall time.

    python bench/precision_quality.py                      # 4 × 245 steps (two passes over the data), ~7 min
    python bench/precision_quality.py --extra "--seed 2"
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from quality import read_metrics  # noqa: E402
from report import save_json  # noqa: E402

TOLERANCE = 0.01  # nats; compare with the seed-to-seed spread (run with --extra "--seed N")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(REPO / "../shared/data/tinyshakespeare.txt"))
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--steps-per-epoch", type=int, default=245)
    p.add_argument("--extra", default="--seed 1", help="more lstmgen train options")
    p.add_argument("--out", default=str(HERE / "results" / "precision_quality.json"))
    a = p.parse_args()
    curves = {}
    with tempfile.TemporaryDirectory(prefix="bench_precision_") as tmp:
        for precision in ("off", "bf16"):
            run = Path(tmp) / precision
            cmd = [
                sys.executable,
                "-m",
                "lstmgen",
                "train",
                str(Path(a.corpus).resolve()),
                "--config",
                "cpu",
                "--epochs",
                str(a.epochs),
                "--steps-per-epoch",
                str(a.steps_per_epoch),
                "--mixed-precision",
                precision,
                "--sample-every-epochs",
                "0",
                "-q",
                *shlex.split(a.extra),
                "-o",
                str(run),
            ]
            print("running:", " ".join(shlex.quote(c) for c in cmd), flush=True)
            subprocess.run(cmd, check=True, cwd=REPO)
            curves[precision] = read_metrics(run)
    f32, bf16 = curves["off"], curves["bf16"]
    print(f"\n{'epoch':>5} {'step':>6} {'float32 val':>12} {'s':>7} {'bf16 val':>10} {'s':>7} {'bf16 - f32':>11}")
    for x, y in zip(f32, bf16, strict=True):
        print(
            f"{x['epoch']:>5} {x['step']:>6} {x['val_loss']:>12.4f} {x['seconds']:>7.1f} {y['val_loss']:>10.4f} "
            f"{y['seconds']:>7.1f} {y['val_loss'] - x['val_loss']:>+11.4f}"
        )
    diff = bf16[-1]["val_loss"] - f32[-1]["val_loss"]
    # at equal wall time: where float32 stood when bf16 had finished all its steps
    budget = bf16[-1]["seconds"]
    f32_by_then = min((r["val_loss"] for r in f32 if r["seconds"] <= budget), default=None)
    verdict = "not worse" if diff <= TOLERANCE else "WORSE"
    print(
        f"\nequal steps: bf16 {bf16[-1]['val_loss']:.4f} vs float32 {f32[-1]['val_loss']:.4f} ({diff:+.4f} nats): "
        f"bf16 {verdict} (tolerance {TOLERANCE})"
    )
    shown = "no validation yet" if f32_by_then is None else f"{f32_by_then:.4f}"
    print(
        f"equal time ({budget:.0f} s, bf16's whole run): bf16 {bf16[-1]['val_loss']:.4f} vs float32 {shown}; "
        f"float32 took {f32[-1]['seconds']:.0f} s for the same steps"
    )
    save_json(
        Path(a.out),
        {
            "extra": a.extra,
            "epochs": a.epochs,
            "steps_per_epoch": a.steps_per_epoch,
            "float32": f32,
            "bf16": bf16,
            "diff_equal_steps": diff,
            "float32_best_within_bf16_time": f32_by_then,
            "verdict": verdict,
        },
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
