"""Fine-tuning from builtin:english against training from scratch, side by side in one run, at equal wall time.

Small corpora that are not in the base's training text (builtin:pydocs + tinyshakespeare + War and Peace), of
different styles, built on this machine (NAME=CHARS picks the first CHARS characters):
- vim: the Vim user manual (/usr/share/vim/vim90/doc/usr_*.txt, Debian's vim-runtime, Vim licence), chapters in
  order: tutorial English, second person, with commands and examples;
- pydocs: builtin:pydocs, the standard library's docstrings: technical English (its first 50 kB are mostly
  _pydecimal's doctests). The shipped base has seen it since it includes it, so it only serves with a --base
  built without it (`build_base_model.py --no-pydocs`);
- licences: Debian's /usr/share/common-licenses texts (GPL-3, Apache-2.0, MPL-2.0, GFDL-1.3, LGPL-2.1, GPL-2,
  MPL-1.1, …), legal English, formulaic and repetitive.
The last 10 % of each is its validation split (lstmgen's default).

For each corpus and each budget (2 and 10 minutes of wall time, validation included, as metrics.csv's
wall_seconds counts it), one run from scratch (--config cpu, its own recipe) and one fine-tuning run (--from
builtin:english, the fine-tuning defaults but for the number of steps), each with its learning-rate schedule
sized to its budget. Reported: the best validation loss within each budget, the differences, and the base's own
loss on each validation split before any training. Targets (issue 13): fine-tuned after 2 min ≤ scratch's best
after 10 min on both corpora; at equal time (2 and 10 min) fine-tuned ≥ 0.25 nats better on the 50 kB corpus.

    python bench/bench_finetune.py                    # vim=50000,licences=190000 × 2 budgets × 2 sides: ~50 min
    python bench/bench_finetune.py --budgets 2 --corpora licences=50000        # one pair, 4 minutes
    python bench/bench_finetune.py --sweep 3e-4,1e-3,3e-3 --budgets 2 --corpora licences=50000   # peak LR
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from quality import read_metrics  # noqa: E402
from report import save_json  # noqa: E402

# Each licence once (not GFDL-1.2 or LGPL-2 beside their later versions); the last ones, the validation split,
# are the ones without a sibling in the list.
LICENCES = (
    "GPL-3",
    "Apache-2.0",
    "MPL-2.0",
    "GFDL-1.3",
    "LGPL-2.1",
    "GPL-2",
    "MPL-1.1",
    "GPL-1",
    "LGPL-3",
    "Artistic",
    "CC0-1.0",
    "BSD",
)
STEPS_PER_EPOCH = 50  # validation every 50 steps: a curve fine enough to read off 2 minutes
STEPS_PER_SECOND = 13  # to size each schedule to its budget (measured on the 2-core box, --config cpu)
COMMON = [
    "--seed",
    "1",
    "--sample-every-epochs",
    "0",
    "--no-tensorboard",
    "--checkpoint-minutes",
    "0",
    "--keep-checkpoints",
    "1",
    "-q",
]


def corpus_text(name: str, chars: int) -> str:
    if name == "vim":
        manual = sorted(Path("/usr/share/vim/vim90/doc").glob("usr_[0-9][0-9].txt"))
        text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in manual)
    elif name == "licences":
        text = "\n\n".join(Path("/usr/share/common-licenses", n).read_text(encoding="utf-8") for n in LICENCES)
    else:
        from lstmgen.data.builtin import builtin_text

        text = builtin_text("pydocs")
    if len(text) < chars:
        raise SystemExit(f"{name} has only {len(text):,} characters, fewer than {chars:,}")
    return text[:chars]


def lstmgen(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lstmgen", *args], capture_output=True, text=True, check=check)


def train(corpus: Path, out: Path, minutes: float, extra: list[str]) -> dict:
    epochs = max(1, round(minutes * 60 * STEPS_PER_SECOND / STEPS_PER_EPOCH))
    t0 = time.monotonic()
    lstmgen(
        "train",
        str(corpus),
        "-o",
        str(out),
        "--epochs",
        str(epochs),
        "--steps-per-epoch",
        str(STEPS_PER_EPOCH),
        "--max-minutes",
        str(minutes),
        *COMMON,
        *extra,
    )
    rows = read_metrics(out)
    within = [r for r in rows if r["seconds"] <= minutes * 60 + 1e-6] or rows[:1]
    best = min(within, key=lambda r: r["val_loss"])
    return {
        "best_val_loss": best["val_loss"],
        "at_seconds": best["seconds"],
        "epochs": len(rows),
        "steps": rows[-1]["step"] if rows else 0,
        "wall_s": round(time.monotonic() - t0, 1),
        "curve": [(round(r["seconds"], 1), round(r["val_loss"], 4)) for r in rows],
    }


def base_loss(corpus: Path, base: str) -> float:
    text = corpus.read_text(encoding="utf-8")
    val = corpus.with_name(corpus.stem + "-val.txt")
    val.write_text(text[int(len(text) * 0.9) :], encoding="utf-8")
    out = json.loads(lstmgen("eval", base, str(val), "--json", "-q").stdout)
    return out["loss"]["nats"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", default="vim=50000,licences=190000", help="NAME=CHARS, comma-separated")
    ap.add_argument("--budgets", default="2,10", help="minutes, comma-separated")
    ap.add_argument("--sweep", default="", help="fine-tuning peak learning rates to compare (no scratch runs)")
    ap.add_argument("--extra", default="", help="more options for the fine-tuning runs, e.g. '--dropout 0.4'")
    ap.add_argument("--out", default=str(HERE / "results" / "finetune.json"))
    ap.add_argument("--only", default="", help="run only these, e.g. scratch_10min,finetune_2min")
    ap.add_argument("--keep", default="", help="keep the runs in this directory (for the gallery)")
    ap.add_argument("--base", default="builtin:english", help="the model to fine-tune from (a candidate base)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="lstmgen-ft-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"base": args.base, "budgets_min": [float(b) for b in args.budgets.split(",")], "corpora": {}}
    for spec in args.corpora.split(","):
        kind, chars = spec.split("=")
        name = f"{kind}{int(chars) // 1000}k"
        corpus = work / f"{name}.txt"
        corpus.write_text(corpus_text(kind, int(chars)), encoding="utf-8")
        r = results["corpora"][name] = {
            "chars": len(corpus.read_text(encoding="utf-8")),
            "base_val_loss_before": base_loss(corpus, args.base),
            "runs": {},
        }
        print(
            f"{name}: {r['chars']:,} chars; builtin:english on its validation split: "
            f"{r['base_val_loss_before']:.4f} nats",
            flush=True,
        )
        for minutes in results["budgets_min"]:
            sides = (
                [
                    (f"finetune_lr{lr}", ["--from", args.base, "--learning-rate", lr, *args.extra.split()])
                    for lr in args.sweep.split(",")
                ]
                if args.sweep
                else [
                    ("scratch", ["--config", "cpu"]),
                    ("finetune", ["--from", args.base, *args.extra.split()]),
                ]
            )
            for side, extra in sides:
                key = f"{side}_{minutes:g}min"
                if args.only and key not in args.only.split(","):
                    continue
                r["runs"][key] = train(corpus, work / f"{name}-{key}", minutes, extra)
                print(
                    f"  {key:22s} best val {r['runs'][key]['best_val_loss']:.4f} at "
                    f"{r['runs'][key]['at_seconds']:.0f}s ({r['runs'][key]['steps']} steps)",
                    flush=True,
                )
    for name, r in results["corpora"].items():
        runs = r["runs"]
        for minutes in results["budgets_min"]:
            s, f = runs.get(f"scratch_{minutes:g}min"), runs.get(f"finetune_{minutes:g}min")
            if s and f:
                r[f"gain_at_{minutes:g}min"] = round(s["best_val_loss"] - f["best_val_loss"], 4)
                print(
                    f"{name} at {minutes:g} min: scratch {s['best_val_loss']:.4f}, fine-tuned "
                    f"{f['best_val_loss']:.4f}, gain {r[f'gain_at_{minutes:g}min']:+.4f} nats"
                )
        lo, hi = min(results["budgets_min"]), max(results["budgets_min"])
        f_lo, s_hi = runs.get(f"finetune_{lo:g}min"), runs.get(f"scratch_{hi:g}min")
        if f_lo and s_hi and lo != hi:
            r["finetuned_short_vs_scratch_long"] = round(s_hi["best_val_loss"] - f_lo["best_val_loss"], 4)
            met = f_lo["best_val_loss"] <= s_hi["best_val_loss"]
            print(
                f"{name}: fine-tuned {lo:g} min {f_lo['best_val_loss']:.4f} vs scratch {hi:g} min "
                f"{s_hi['best_val_loss']:.4f}: {'met' if met else 'NOT met'}"
            )
    save_json(args.out, results)
    print(f"wrote {args.out}; runs in {work}")


if __name__ == "__main__":
    main()
