"""The README's sample gallery: samples from trained runs at a few temperatures, with the validation loss behind them.

For each RUN_DIR it reads the best validation loss from metrics.csv, generates one sample per temperature from the
run's best.keras with fixed seeds (so the section is reproducible), and prints a Markdown section to stdout:

    python bench/gallery.py runs/pydocs runs/shakespeare > gallery.md
    python bench/gallery.py runs/shakespeare --prime "ROMEO:" --length 400 --temperatures 0.5,0.8,1.0 --seed 1
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from lstmgen.config import parse_temperatures
from lstmgen.generation.generate import generate
from lstmgen.generation.sample import Sampling
from lstmgen.runs.plots import read_metrics
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.runinfo import parameter_count

LN2 = math.log(2)


def fenced(text: str) -> str:
    """A fenced code block that survives backticks in the sample."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def best_row(run: Path) -> dict | None:
    rows = [r for r in read_metrics(run / "metrics.csv") if r.get("val_loss") is not None]
    return min(rows, key=lambda r: r["val_loss"]) if rows else None


def section(run: Path, temperatures: list[float], length: int, prime: str, seed: int) -> str:
    cfg = RunDir(run).saved_config()
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    best = best_row(run)
    params = parameter_count(cfg, int(info.get("vocab_size") or 0))
    loss = (
        f"best validation loss {best['val_loss']:.4f} nats = {best['val_loss'] / LN2:.3f} bits/char "
        f"(epoch {best['epoch']:.0f}, step {best['global_step']:,.0f}, {best['wall_seconds'] / 60:.1f} min)"
        if best
        else "no validation loss recorded"
    )
    lines = [
        f"### {info.get('source')} — `{run.name}`",
        "",
        f"{cfg['layers']} × LSTM {cfg['units']}, embedding {cfg['embedding_dim']}, {params:,} parameters; "
        f"{loss}. Samples from `best.keras`, {length} characters"
        + (f" after the prime {prime!r}" if prime else "")
        + f", seed {seed}:",
        "",
    ]
    for t in temperatures:
        text = generate(
            str(run),
            which="best",
            prime=prime,
            length=length,
            sampling=Sampling(temperature=t),
            seed=seed,
            warn=lambda m: print(m, file=sys.stderr),
        )[0]
        lines += [f"Temperature {t}:", "", fenced(text), ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run directories")
    ap.add_argument("--temperatures", default="0.5,0.8,1.0")
    ap.add_argument("--length", type=int, default=300)
    ap.add_argument("--prime", default="", help="prime text (default: none; samples start from a random character)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    temperatures = parse_temperatures(args.temperatures)
    print("## Gallery\n")
    print(
        "Real samples, regenerated with `python bench/gallery.py "
        + " ".join(str(r) for r in args.runs)
        + f" --length {args.length} --seed {args.seed}"
        + (f" --prime {args.prime!r}" if args.prime else "")
        + "`. Lower temperatures are safer and more repetitive, higher ones more inventive and less correct.\n"
    )
    for run in args.runs:
        print(section(run, temperatures, args.length, args.prime, args.seed))


if __name__ == "__main__":
    main()
