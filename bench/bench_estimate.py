"""`lstmgen estimate` targets, measured side by side in one run.

1. Forecast accuracy: `lstmgen estimate CORPUS --config cpu` predicts an epoch; then `lstmgen train CORPUS
   --config cpu --epochs 2` measures real epochs (metrics.csv epoch_seconds: steps + validation + checkpoint).
   Target: prediction within ±10 % of the measured epoch. Epoch 1 is compared with prediction + compile time,
   epoch 2 with the prediction alone.
2. `estimate --log` on a 10 MB Keras log: wall time of the whole command (start-up included), and proof that
   TensorFlow is never imported. Target: well under a second.

    python bench/bench_estimate.py                 # ~4 min on 2 cores (tinyshakespeare)
    python bench/bench_estimate.py --quick         # builtin:reber, smoke config, ~1 min
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import save_json

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "logs" / "keras_log_verbose1.txt"


def lstmgen(*args: str, capture: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstmgen", *args], capture_output=capture, text=True, check=True)


def forecast_accuracy(corpus: str, config: str, extra: list[str], workdir: Path) -> dict:
    out = lstmgen("estimate", corpus, "--config", config, "--no-what-if", "--json", *extra).stdout
    predicted = json.loads(out)["estimate"]
    run = workdir / "run"
    lstmgen(
        "train", corpus, "--config", config, "--epochs", "2", "--checkpoint-minutes", "0", "-q", "-o", str(run), *extra
    )
    with open(run / "metrics.csv", newline="") as f:
        epochs = [float(r["epoch_seconds"]) for r in csv.DictReader(f)]
    p = predicted["epoch_seconds"]
    return {
        "predicted_epoch_seconds": p,
        "predicted_compile_seconds": predicted["compile_seconds"],
        "predicted_seconds_per_step": predicted["seconds_per_step"],
        "steps_per_epoch": predicted["steps_per_epoch"],
        "measured_epoch_seconds": epochs,
        "error_epoch1": (p + predicted["compile_seconds"]) / epochs[0] - 1,
        "error_epoch2": p / epochs[1] - 1,
    }


def log_speed(workdir: Path, megabytes: float) -> dict:
    chunk = FIXTURE.read_bytes()
    big = workdir / "big.log"
    with open(big, "wb") as f:
        written = 0
        while written < megabytes * 1e6:
            f.write(chunk)
            written += len(chunk)
    probe = (
        "import sys, time; t = time.perf_counter(); from lstmgen.cli.main import main\n"
        "try:\n    main(['estimate', '--log', sys.argv[1], '--json'])\nexcept SystemExit:\n    pass\n"
        "print('TF_IMPORTED', 'tensorflow' in sys.modules or 'keras' in sys.modules, file=sys.stderr)"
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", probe, str(big)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import lstmgen.cli.main"], check=True)
    startup = time.perf_counter() - t0
    return {
        "log_bytes": big.stat().st_size,
        "command_seconds": wall,
        "python_startup_seconds": startup,
        "tensorflow_imported": "TF_IMPORTED True" in proc.stderr,
        "exit_code": proc.returncode,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "tinyshakespeare.txt"))
    ap.add_argument("--config", default="cpu")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "estimate.json"))
    args = ap.parse_args()
    corpus, config, extra = args.corpus, args.config, []
    if args.quick:
        corpus, config, extra = "builtin:reber", "smoke", ["--steps-per-epoch", "100"]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("LSTMGEN_CACHE", str(Path(tmp) / "cache"))
        acc = forecast_accuracy(corpus, config, extra, Path(tmp))
        speed = log_speed(Path(tmp), 10.0)
    print(f"forecast ({corpus}, --config {config}):")
    print(
        f"  predicted epoch {acc['predicted_epoch_seconds']:.1f} s ({acc['steps_per_epoch']} steps × "
        f"{acc['predicted_seconds_per_step'] * 1000:.1f} ms + validation + checkpoint), "
        f"compile {acc['predicted_compile_seconds']:.1f} s"
    )
    for i, (m, err) in enumerate(
        zip(acc["measured_epoch_seconds"], (acc["error_epoch1"], acc["error_epoch2"]), strict=True), 1
    ):
        verdict = "PASS" if abs(err) <= 0.10 else "FAIL"
        print(f"  measured epoch {i}: {m:.1f} s   prediction error {err:+.1%}   (target ±10 %) {verdict}")
    print(
        f"estimate --log on {speed['log_bytes'] / 1e6:.1f} MB: {speed['command_seconds']:.2f} s for the whole "
        f"command (python start-up alone {speed['python_startup_seconds']:.2f} s), TensorFlow imported: "
        f"{speed['tensorflow_imported']}, exit {speed['exit_code']}"
    )
    save_json(Path(args.out), {"forecast": acc, "log_speed": speed})


if __name__ == "__main__":
    main()
