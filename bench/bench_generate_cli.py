"""Whole-command wall time of `lstmgen generate RUN --length 200` (target ≤ 0.5 s), against the previous path.

Each measurement is a fresh process, timed from spawn to exit (interpreter start-up, imports, loading the model,
generating, printing), median of --repeats, all in one run so the ratio is fair on a shared machine:

  numpy-h5py      `lstmgen generate RUN --length 200` as it is now: weights read from the .keras zip with h5py,
                  NumPy engine, TensorFlow/Keras never imported (checked: the child reports its sys.modules)
  keras-load      the previous path: the backend imported (as `--engine auto` did to look for a GPU) and the model
                  loaded by `keras.saving.load_model`, then the same NumPy engine (same text for the same seed)
  engine-keras    `--engine keras`: the Keras backend's compiled step (imports TensorFlow by design)

    python bench/bench_generate_cli.py                      # trains a 2 × 256 run for a few steps to measure on
    python bench/bench_generate_cli.py --run runs/book      # an existing run
    python bench/bench_generate_cli.py --quick              # a 1 × 32 model, 2 repeats: checks the script only
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import save_json

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

CHILD = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("\\nHEAVY=" + ",".join(sorted({m.split(".")[0] for m in sys.modules
    if m.split(".")[0] in ("tensorflow", "keras", "jax", "torch")})) + "\\n"))
if sys.argv[1] == "keras-load":
    import lstmgen.runtime.backend  # the previous `--engine auto` imported the backend to look for a GPU
    import lstmgen.generation.generate as g
    from lstmgen.generation.sample import StepModel
    g.read_step_model = lambda path: StepModel.from_keras(g.load_keras_model(path))
from lstmgen.cli.main import main
main(sys.argv[2:])
"""


def make_run(workdir: Path, quick: bool) -> Path:
    corpus = workdir / "corpus.txt"
    corpus.write_text(("The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs!\n") * 400)
    shape = ["--units", "32", "--layers", "1"] if quick else ["--units", "256", "--layers", "2"]
    run = workdir / "run"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lstmgen",
            "train",
            str(corpus),
            "-o",
            str(run),
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
            "--seq-len",
            "32",
            "--batch-size",
            "8",
            "--checkpoint-minutes",
            "0",
            "--no-tensorboard",
            "--sample-every-epochs",
            "0",
            "-q",
            *shape,
        ],
        check=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.DEVNULL,
    )
    return run


def time_once(mode: str, args: list[str]) -> tuple[float, str, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed: {proc.stderr.strip().splitlines()[-1:]}")
    heavy = proc.stderr.rstrip().rsplit("HEAVY=", 1)[-1]
    return seconds, heavy, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run directory (default: train a 2 × 256 model for 2 steps in a temp dir)")
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="tiny model, 2 repeats: checks the script end to end")
    ap.add_argument("--out", default=str(HERE / "results" / "generate_cli.json"))
    a = ap.parse_args()
    repeats = 2 if a.quick else a.repeats
    with tempfile.TemporaryDirectory(prefix="bench-generate-cli-") as tmp:
        run = Path(a.run) if a.run else make_run(Path(tmp), a.quick)
        base = ["generate", str(run), "--length", str(a.length), "--seed", "1"]
        modes = {
            "numpy-h5py": ("new", base),
            "keras-load": ("keras-load", [*base, "--engine", "numpy"]),
            "engine-keras": ("new", [*base, "--engine", "keras"]),
        }
        results, texts = {}, {}
        for _ in range(repeats):  # interleaved, so a busy spell on a shared machine hits every mode alike
            for name, (mode, args) in modes.items():
                seconds, heavy, text = time_once(mode, args)
                results.setdefault(name, {"seconds": [], "imports": heavy})["seconds"].append(seconds)
                texts[name] = text
    for r in results.values():
        r["median_s"] = statistics.median(r["seconds"])
    new = results["numpy-h5py"]["median_s"]
    report = {
        "run": str(a.run or "trained for the bench"),
        "length": a.length,
        "repeats": repeats,
        "quick": a.quick,
        "modes": results,
        "same_text_as_keras_load": texts["numpy-h5py"] == texts["keras-load"],
        "ratio_keras_load_over_new": results["keras-load"]["median_s"] / new,
        "ratio_engine_keras_over_new": results["engine-keras"]["median_s"] / new,
        "target_s": 0.5,
        "met": new <= 0.5,
    }
    print(f"`lstmgen generate RUN --length {a.length}`, whole command, median of {repeats} (fresh process each)")
    for name, r in results.items():
        print(f"  {name:13s} {r['median_s']:6.2f} s   imports: {r['imports'] or 'no TensorFlow/Keras'}")
    print(
        f"  previous path (keras-load) / now: {report['ratio_keras_load_over_new']:.1f}×;  "
        f"--engine keras / now: {report['ratio_engine_keras_over_new']:.1f}×;  "
        f"same text as keras-load: {report['same_text_as_keras_load']}"
    )
    print(f"  target ≤ 0.5 s: {'met' if report['met'] else 'NOT met'} ({new:.2f} s)")
    save_json(a.out, report)


if __name__ == "__main__":
    main()
