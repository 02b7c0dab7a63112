"""`estimate --log` on real public training logs: point error and range coverage from 20 % and 50 % of each run.

Every run in tests/fixtures/logs/real (sources in SOURCES.md) with at least 5 finished epochs is scored: the log
is cut right after epoch k = ceil(cut × n) of that run, `estimate` forecasts the rest with `--now` at the cut
and `--epochs n` (the number of epochs the run really had: early stopping is not a timing question), and the
forecast remaining time is compared with the sum of the remaining epochs' own times in the log.

Split: the runs, in (file name, run) order, alternate between "dev" (runs 1, 3, 5, …: used to choose
etainterval's FLOOR and PRIOR_SPREAD) and "held out" (only scored). Both halves are printed.

    python bench/bench_eta_real.py            # ~1 s; writes bench/results/eta_real.json
"""

from __future__ import annotations

import math
import statistics
import sys
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lstmgen.eta.estimate import estimate  # noqa: E402
from lstmgen.eta.interval import INTERVAL  # noqa: E402
from lstmgen.eta.logparse import parse_log  # noqa: E402
from lstmgen.eta.logruns import build_runs  # noqa: E402
from report import save_json  # noqa: E402

REAL = REPO / "tests" / "fixtures" / "logs" / "real"
NOW = datetime(2025, 1, 1, 12, 0, 0)
CUTS = (0.2, 0.5)
MIN_EPOCHS = 5


def runs_of(path: Path):
    """(run index, durations of its finished epochs, line after each epoch's end, the run's epoch total) for each run
    of a file. The total is the number of the last finished epoch: a log excerpt that starts at epoch 39 and ends
    after epoch 48 is a run of 48 epochs whose first 38 are not in the log."""
    events = parse_log(path.read_bytes())
    out = []
    for i, run in enumerate(build_runs(events)):
        eps = [e for e in run.epochs if e.complete and e.duration() is not None]
        if len(eps) >= MIN_EPOCHS:
            total = max(len(eps), eps[-1].number or 0)
            out.append((i + 1, [e.duration() for e in eps], [_end_line(e) for e in eps], total))
    return out


def _end_line(ep) -> int:
    return ep.end.line if ep.end is not None else ep.final.line


def score(path: Path, run: int, durs: list[float], lines: list[int], total: int, cut: float) -> dict:
    n = len(durs)
    k = max(1, math.ceil(cut * n))
    if k >= n:
        k = n - 1
    text = path.read_bytes().split(b"\n")
    data = b"\n".join(text[: lines[k - 1] + 1]) + b"\n"
    truth = sum(durs[k:])
    est = estimate(parse_log(data), now=NOW, epochs=total, run=run)
    pred = est.remaining_s
    low = (est.run_end_low - NOW).total_seconds() if est.run_end_low else None
    high = (est.run_end_high - NOW).total_seconds() if est.run_end_high else None
    return {
        "log": path.name,
        "run": run,
        "epochs": n,
        "cut_epoch": k,
        "cut": cut,
        "truth_s": truth,
        "predicted_s": pred,
        "low_s": low,
        "high_s": high,
        "error": None if pred is None else pred / truth - 1,
        "inside": None if low is None else low - 1e-6 <= truth <= high + 1e-6,
        "stall_ahead": max(durs[k:]) > 3 * max(durs[:k]) if k else False,
    }


def summary(rows: list[dict]) -> dict:
    errs = sorted(abs(r["error"]) for r in rows if r["error"] is not None)
    inside = [r["inside"] for r in rows if r["inside"] is not None]
    off2 = [r for r in rows if r["error"] is not None and (r["error"] > 1 or r["error"] < -0.5)]
    return {
        "runs": len(rows),
        "forecasts": len(errs),
        "median_abs_error": statistics.median(errs) if errs else None,
        "p90_abs_error": errs[min(len(errs) - 1, math.ceil(0.9 * len(errs)) - 1)] if errs else None,
        "coverage": sum(inside) / len(inside) if inside else None,
        "more_than_2x_off": len(off2),
        "more_than_2x_off_without_unseen_stall": sum(not r["stall_ahead"] for r in off2),
    }


def main() -> None:
    files = sorted(REAL.glob("*.txt"))
    rows = []
    order = [(f, run) for f in files for run in runs_of(f)]
    for i, (f, (run, durs, lines, total)) in enumerate(order):
        for cut in CUTS:
            r = score(f, run, durs, lines, total, cut)
            r["half"] = "dev" if i % 2 == 0 else "held out"
            rows.append(r)
    for r in rows:
        err = "   none" if r["error"] is None else f"{r['error']:+7.1%}"
        print(
            f"{r['half']:8} {r['log'][:38]:38} run {r['run']:>2} cut {r['cut']:.0%} (epoch {r['cut_epoch']:>3}/"
            f"{r['epochs']:<3}) rest {r['truth_s']:>9.1f} s  forecast {r['predicted_s'] or 0:>9.1f} s  {err}  "
            f"{'in ' if r['inside'] else 'OUT'} [{r['low_s'] or 0:.1f}, {r['high_s'] or 0:.1f}]"
            f"{'  (stall ahead)' if r['stall_ahead'] else ''}"
        )
    result = {"interval": INTERVAL, "files": len(files), "now": NOW.isoformat(), "rows": rows, "summary": {}}
    print(
        f"\n{len(files)} files, {len({(r['log'], r['run']) for r in rows})} runs with ≥ {MIN_EPOCHS} finished "
        f"epochs; range = {INTERVAL:.0%} interval (target coverage {INTERVAL:.0%} ± 5 points)"
    )
    for half in ("dev", "held out", "all"):
        for cut in CUTS:
            sel = [r for r in rows if r["cut"] == cut and (half == "all" or r["half"] == half)]
            s = summary(sel)
            result["summary"][f"{half} {cut:.0%}"] = s
            print(
                f"{half:8} cut {cut:.0%}: {s['runs']:>3} runs, median |error| {s['median_abs_error']:.2%}, "
                f"p90 {s['p90_abs_error']:.2%}, coverage {s['coverage']:.1%}, >2× off {s['more_than_2x_off']} "
                f"({s['more_than_2x_off_without_unseen_stall']} without a stall ahead)"
            )
    out = REPO / "bench" / "results" / "eta_real.json"
    save_json(out, result, indent=1)


if __name__ == "__main__":
    main()
