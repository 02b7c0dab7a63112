"""Stateful training (--stateful) against the usual random windows at equal wall time, one run, both sides.

Each side is the real CLI, `lstmgen train CORPUS --config cpu --max-minutes M --seed S EXTRA`, once with random
windows (the default) and once with `--stateful` (char-rnn's contiguous streams, the LSTM state carried from batch
to batch). The figure compared is the best windowed validation loss whose `wall_seconds` is within the budget (the
comparable one in targets); the stateful validation figure (state carried through the validation split) is shown
beside it, since that is the way of reading a model that stateful training should favour.

    python bench/bench_stateful.py --minutes 5                      # tinyshakespeare, 2 × 5 min
    python bench/bench_stateful.py --minutes 10 --extra "--units 512"
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from quality import read_metrics  # noqa: E402
from report import save_json  # noqa: E402


def side(corpus: Path, minutes: float, options: list[str], run: Path) -> dict:
    cmd = [sys.executable, "-m", "lstmgen", "train", str(corpus), "--config", "cpu", "--max-minutes", str(minutes)]
    cmd += [*options, "-o", str(run), "-q"]
    print("running:", " ".join(shlex.quote(c) for c in cmd), flush=True)
    rc = subprocess.call(cmd, cwd=REPO)
    if rc not in (0, 3):
        raise SystemExit(f"lstmgen train failed with exit code {rc}")
    rows = read_metrics(run)
    within = [r for r in rows if r["seconds"] <= minutes * 60] or rows[:1]
    best = min(within, key=lambda r: r["val_loss"])
    return {
        "command": cmd,
        "best_val_loss": best["val_loss"],
        "best_epoch": best["epoch"],
        "best_seconds": best["seconds"],
        "best_val_loss_stateful": best["val_loss_stateful"],
        "steps": rows[-1]["step"],
        "curve": rows,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "tinyshakespeare.txt"))
    p.add_argument("--minutes", type=float, default=5.0, help="wall-time budget of each side")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--extra", default="", help="more lstmgen train options for both sides")
    p.add_argument("--out", default=str(HERE / "results" / "stateful_training.json"))
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_stateful_"))
    options = ["--seed", str(a.seed), *shlex.split(a.extra)]
    results = {
        "windows": side(Path(a.corpus), a.minutes, options, tmp / "windows"),
        "stateful": side(Path(a.corpus), a.minutes, [*options, "--stateful"], tmp / "stateful"),
    }
    print(f"\n{a.minutes:g} min each; best windowed val_loss within the budget (stateful figure beside it)")
    for name, r in results.items():
        sf = r["best_val_loss_stateful"]
        print(
            f"  {name:<9} {r['best_val_loss']:.4f} nats at {r['best_seconds']:.0f} s (epoch {r['best_epoch']}, "
            f"{r['steps']} steps)" + (f"; stateful {sf:.4f}" if sf is not None else "")
        )
    gain = results["windows"]["best_val_loss"] - results["stateful"]["best_val_loss"]
    print(f"  stateful − windows: {-gain:+.4f} nats (negative: stateful training is better)")
    save_json(
        Path(a.out),
        {
            "minutes": a.minutes,
            "corpus": Path(a.corpus).name,
            "options": options,
            "versions": {m: version(m) for m in ("keras",)},
            "sides": results,
            "stateful_minus_windows": -gain,
        },
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
