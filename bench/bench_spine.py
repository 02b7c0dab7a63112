"""The lstmgen issue targets, measured side by side with the naive notebook method (bench/naive.py) in one run.

Every measurement runs in its own fresh subprocess; its peak RSS comes from os.wait4 (per child, not the running
maximum over all children that getrusage(RUSAGE_CHILDREN) would give). GB = 10^9 bytes.

    python bench/bench_spine.py                 # full (about 10-15 min on 2 cores; naive windows need ~10 GB)
    python bench/bench_spine.py --quick         # tiny sizes: checks the script end to end
    python bench/bench_spine.py --only gen --run-dir RUN   # one group, reusing a trained 2x256 run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from report import save_json

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NAIVE = str(HERE / "naive.py")
GROUPS = ("prepare", "train", "rss", "gen", "reber")
STEP_RE = re.compile(r"step (\d+)/(\d+) loss \S+ elapsed ([\d.]+)s")


def child(cmd: list, what: str, env: dict | None = None) -> dict:
    """Run cmd in a fresh process; return rc, wall seconds, its own peak RSS (GB), stdout, stderr."""
    print(f"  running {what} ...", flush=True)
    cmd = [str(c) for c in cmd]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, text=True, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        res = {
            "rc": proc.returncode,
            "seconds": seconds,
            "peak_rss_gb": usage.ru_maxrss * 1024 / 1e9,
            "stdout": out.read(),
            "stderr": err.read(),
        }
    if res["rc"] != 0:
        tail = "\n".join(res["stderr"].strip().splitlines()[-5:])
        raise SystemExit(f"{what} failed (exit {res['rc']}): {' '.join(cmd)}\n{tail}")
    return res


def fresh(path: Path) -> Path:
    """A run/prepared directory of ours from an earlier run with the same --workdir is removed (train would resume
    it)."""
    if path.exists():
        shutil.rmtree(path)
    return path


def child_json(cmd: list, what: str, env: dict | None = None) -> dict:
    res = child(cmd, what, env)
    data = json.loads(res["stdout"].strip().splitlines()[-1])
    data["child_peak_rss_gb"], data["wall_seconds"] = res["peak_rss_gb"], res["seconds"]
    return data


def lstmgen(*args) -> list:
    return [sys.executable, "-m", "lstmgen", *args]


def log_rate(run_dir: Path, skip_steps: int) -> dict:
    """Steady-state steps/s from train.log progress lines, between the first logged step >= skip_steps and the last."""
    points = [(int(m[1]), float(m[3])) for m in STEP_RE.finditer((run_dir / "train.log").read_text())]
    later = [p for p in points if p[0] >= skip_steps]
    if len(later) < 2:
        raise SystemExit(f"{run_dir}/train.log has too few progress lines after step {skip_steps}: {points}")
    (s0, t0), (s1, t1) = later[0], later[-1]
    return {"from_step": s0, "to_step": s1, "seconds": t1 - t0, "steps_per_s": (s1 - s0) / (t1 - t0)}


def machine() -> dict:
    info = {
        "cpu": "?",
        "cpus_online": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "tensorflow": version("tensorflow"),
        "keras": version("keras"),
        "load_avg_start": os.getloadavg(),
    }
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and info["cpu"] == "?":
            info["cpu"] = line.split(":", 1)[1].strip()
        if line.startswith("flags"):
            info["bf16"] = "avx512_bf16" in line.split() or "amx_bf16" in line.split()
    return info


# --- groups ---------------------------------------------------------------------------------------------------
def bench_prepare(a, work: Path, R: dict) -> None:
    res = child(lstmgen("prepare", a.corpus, "-o", fresh(work / "prep"), "-q"), "lstmgen prepare")
    R["prepare"] = {"seconds": res["seconds"], "peak_rss_gb": res["peak_rss_gb"]}
    max_chars = 200_000 if a.quick else 0
    R["naive_windows"] = child_json(
        [sys.executable, NAIVE, "windows", "--corpus", a.corpus, "--max-chars", max_chars],
        "naive window materialisation",
    )


def bench_train(a, work: Path, R: dict) -> None:
    prep = work / "prep"
    if not (prep / "meta.json").exists():
        child(lstmgen("prepare", a.corpus, "-o", prep, "-q"), "lstmgen prepare")
    R["naive_train"] = child_json(
        [sys.executable, NAIVE, "train", "--corpus", a.corpus, "--steps", a.naive_steps], "naive training"
    )
    shape = ["--embedding-dim", 50, "--layers", 1, "--units", 128, "--seq-len", 100, "--batch-size", 128]
    for mp in ("off", "auto"):
        run = fresh(work / f"train_{mp}")
        res = child(
            lstmgen(
                "train",
                prep,
                *shape,
                "--steps-per-epoch",
                a.lstmgen_steps,
                "--epochs",
                1,
                "--log-every-steps",
                10,
                "--mixed-precision",
                mp,
                "--checkpoint-minutes",
                0,
                "--seed",
                1,
                "-q",
                "-o",
                run,
            ),
            f"lstmgen train (mixed precision {mp})",
        )
        rate = log_rate(run, a.skip_steps)
        rate["chars_per_s"] = rate["steps_per_s"] * 128 * 100
        rate["ms_per_step"] = 1000 / rate["steps_per_s"]
        rate["ratio_vs_naive"] = rate["chars_per_s"] / R["naive_train"]["chars_per_s"]
        rate["wall_seconds"], rate["peak_rss_gb"] = res["seconds"], res["peak_rss_gb"]
        R[f"lstmgen_train_{mp}"] = rate


def bench_rss(a, work: Path, R: dict) -> None:
    run = fresh(work / "cpu_run")
    extra = ["--steps-per-epoch", 20] if a.quick else []
    res = child(
        lstmgen("train", a.corpus, "--config", "cpu", "--epochs", 1, *extra, "-q", "-o", run),
        "lstmgen train --config cpu (one epoch)",
    )
    metrics = (run / "metrics.csv").read_text().splitlines()
    R["cpu_epoch"] = {
        "peak_rss_gb": res["peak_rss_gb"],
        "wall_seconds": res["seconds"],
        "run_dir": str(run),
        "metrics": dict(zip(metrics[0].split(","), metrics[-1].split(","), strict=True)),
    }
    a.run_dir = str(run)


def bench_gen(a, work: Path, R: dict) -> None:
    if not a.run_dir:
        raise SystemExit("the gen group needs a trained run: run the rss group too, or pass --run-dir")
    run, model = a.run_dir, str(Path(a.run_dir) / "best.keras")
    me = [sys.executable, str(Path(__file__).resolve()), "--child-gen", run, "--repeats", a.gen_repeats]
    one_thread = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for n, chars in ((1, 2000), (64, 500)):
        R[f"gen_{n}"] = child_json([*me, "--streams", n, "--chars", chars], f"lstmgen generation, {n} stream(s)")
        # information: the same with NumPy's BLAS held to one thread (shared 2-core boxes suffer from spinning)
        R[f"gen_{n}_blas1"] = child_json(
            [*me, "--streams", n, "--chars", chars], f"lstmgen generation, {n} stream(s), BLAS 1 thread", one_thread
        )
    R["naive_gen_1"] = child_json(
        [sys.executable, NAIVE, "generate", "--model", model, "--chars", 30, "--batch", 1],
        "naive predict-per-char generation, batch 1",
    )
    R["naive_gen_64"] = child_json(
        [sys.executable, NAIVE, "generate", "--model", model, "--chars", 10, "--batch", 64],
        "naive predict-per-char generation, batch 64",
    )
    for n in (1, 64):
        R[f"gen_{n}"]["ratio_vs_naive"] = R[f"gen_{n}"]["chars_per_s"] / R[f"naive_gen_{n}"]["chars_per_s"]
    res = child(lstmgen("generate", run, "--length", 2000, "--seed", 1), "lstmgen generate --length 2000")
    R["generate_cli"] = {"seconds": res["seconds"], "peak_rss_gb": res["peak_rss_gb"]}


def child_gen(run: str, streams: int, chars: int, repeats: int) -> None:
    """Child process: lstmgen's own generation path, timing only the sampling loop; median of `repeats`."""
    import numpy as np

    from lstmgen.generation.generate import load
    from lstmgen.generation.sample import Sampling, generate_ids

    step_model, vocab, _ = load(run)
    prime = vocab.encode("The ", unknown="map")
    for _ in generate_ids(step_model, prime, 20, streams, Sampling(), seed=0):  # warm-up
        pass
    rates = []
    for r in range(repeats):
        t0 = time.perf_counter()
        n = sum(1 for _ in generate_ids(step_model, prime, chars, streams, Sampling(temperature=1.0), seed=r))
        rates.append(streams * n / (time.perf_counter() - t0))
    print(
        json.dumps(
            {
                "streams": streams,
                "steps": n,
                "repeats": repeats,
                "chars_per_s": float(np.median(rates)),
                "all_chars_per_s": rates,
                "model": str(run),
                "numpy": np.__version__,
            }
        )
    )


def bench_reber(a, work: Path, R: dict) -> None:
    from lstmgen.data.reber import is_valid_embedded  # pure Python, no TensorFlow

    prep = fresh(work / "reber_prep")
    child(lstmgen("prepare", "builtin:reber", "-o", prep, "-q"), "lstmgen prepare builtin:reber")
    n, length = (16, 300) if a.quick else (64, 1000)  # quick: one seed (the smoke config takes ~20-60 s)
    R["reber"] = []
    for seed in a.reber_seeds:
        run = fresh(work / f"reber_seed{seed}")
        tr = child(
            lstmgen("train", prep, "--config", "smoke", "--seed", seed, "-q", "-o", run),
            f"lstmgen train reber (seed {seed})",
        )
        gen = child(
            lstmgen(
                "generate",
                run,
                "--num-samples",
                n,
                "--length",
                length,
                "--temperature",
                "1.0",
                "--prime",
                "\n",
                "--seed",
                1,
            ),
            f"lstmgen generate reber (seed {seed})",
        )
        lines = []
        for block in gen["stdout"].split("--- sample ")[1:]:
            body = block.split("\n", 1)[1]  # after the header line: the prime "\n", the text, then "\n"
            lines += body.split("\n")[1:-2]  # drop the prime's line, the possibly cut last line and the ""
        valid = sum(map(is_valid_embedded, lines))
        R["reber"].append(
            {
                "seed": seed,
                "lines": len(lines),
                "valid": valid,
                "empty": lines.count(""),
                "valid_share": valid / max(len(lines), 1),
                "train_seconds": tr["seconds"],
            }
        )


# --- report ---------------------------------------------------------------------------------------------------
def summary(R: dict) -> list[dict]:
    rows = []

    def row(name, value, unit, target, ok, ratio=None):
        rows.append(
            {"measure": name, "value": value, "unit": unit, "target": target, "ratio_vs_naive": ratio, "pass": ok}
        )

    if "prepare" in R:
        p, nw = R["prepare"], R["naive_windows"]
        row("prepare (CLI, incl. start-up)", p["seconds"], "s", "<= 5 s", p["seconds"] <= 5)
        row("prepare peak RSS", p["peak_rss_gb"], "GB", "info", None)
        row(f"naive windows ({nw['chars']:,} chars)", nw["seconds"], "s", "info", None)
        row("naive windows peak RSS", nw["child_peak_rss_gb"], "GB", "info", None)
    if "naive_train" in R:
        row("naive training (many-to-one)", R["naive_train"]["chars_per_s"], "chars/s", "baseline", None)
        for mp in ("off", "auto"):
            t = R[f"lstmgen_train_{mp}"]
            row(
                f"lstmgen training, same shape, precision {mp}",
                t["chars_per_s"],
                "chars/s",
                ">= 50x naive",
                t["ratio_vs_naive"] >= 50,
                t["ratio_vs_naive"],
            )
    if "cpu_epoch" in R:
        row(
            "peak RSS, one epoch --config cpu",
            R["cpu_epoch"]["peak_rss_gb"],
            "GB",
            "<= 1.0 GB",
            R["cpu_epoch"]["peak_rss_gb"] <= 1.0,
        )
    if "gen_1" in R:
        for n, target in ((1, 5000), (64, 50000)):
            g = R[f"gen_{n}"]
            row(
                f"generation 2x256, {n} stream(s)",
                g["chars_per_s"],
                "chars/s",
                f">= {target:,}",
                g["chars_per_s"] >= target,
                g["ratio_vs_naive"],
            )
            row("  same, NumPy BLAS held to 1 thread", R[f"gen_{n}_blas1"]["chars_per_s"], "chars/s", "info", None)
            row(f"naive predict-per-char, batch {n}", R[f"naive_gen_{n}"]["chars_per_s"], "chars/s", "baseline", None)
        row("lstmgen generate --length 2000 (whole command)", R["generate_cli"]["seconds"], "s", "info", None)
    for r in R.get("reber", []):
        row(
            f"Reber valid share, seed {r['seed']} ({r['lines']} strings)",
            100 * r["valid_share"],
            "%",
            ">= 99 %",
            r["valid_share"] >= 0.99,
        )
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"\n{'measure':<52} {'value':>12} {'unit':<8} {'target':<14} {'vs naive':>9}  result")
    for r in rows:
        v = r["value"]
        shown = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
        ratio = f"{r['ratio_vs_naive']:.1f}x" if r["ratio_vs_naive"] is not None else ""
        verdict = {True: "PASS", False: "FAIL", None: ""}[r["pass"]]
        print(f"{r['measure']:<52} {shown:>12} {r['unit']:<8} {r['target']:<14} {ratio:>9}  {verdict}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(REPO / "../shared/data/warandpeace.txt"))
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check the script (numbers meaningless)")
    p.add_argument("--only", nargs="+", choices=GROUPS, default=list(GROUPS))
    p.add_argument("--workdir", help="where runs are kept (default: a new temp dir, kept and printed)")
    p.add_argument("--run-dir", help="a trained 2x256 run for the gen group (default: the rss group's run)")
    p.add_argument("--reber-seeds", type=int, nargs="+", default=None, help="default 1 2 3 (quick: 1)")
    p.add_argument("--naive-steps", type=int, default=None, help="timed naive steps (default 200, quick 20)")
    p.add_argument("--lstmgen-steps", type=int, default=None, help="steps per lstmgen run (default 300, quick 40)")
    p.add_argument("--gen-repeats", type=int, default=3, help="timed generation repeats (median reported)")
    p.add_argument("--skip-steps", type=int, default=20, help="lstmgen steps excluded from the rate (compilation)")
    p.add_argument("--out", default=str(HERE / "results" / "bench_spine.json"))
    p.add_argument("--child-gen", help=argparse.SUPPRESS)
    p.add_argument("--streams", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--chars", type=int, default=2000, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child_gen:
        return child_gen(a.child_gen, a.streams, a.chars, a.repeats)
    a.corpus = str(Path(a.corpus).resolve())
    a.reber_seeds = a.reber_seeds or ([1] if a.quick else [1, 2, 3])
    a.naive_steps = a.naive_steps or (20 if a.quick else 200)
    a.lstmgen_steps = a.lstmgen_steps or (40 if a.quick else 300)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench_spine_")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(
        f"machine: {info['cpu']}, {info['cpus_usable']}/{info['cpus_online']} CPUs usable, TF {info['tensorflow']}"
        f", Keras {info['keras']}, load {info['load_avg_start']}\ncorpus {a.corpus}\nwork dir {work} (kept)"
    )
    R: dict = {}
    t0 = time.perf_counter()
    for name in GROUPS:
        if name in a.only:
            print(f"[{name}]", flush=True)
            globals()[f"bench_{name}"](a, work, R)
    info["load_avg_end"], info["total_seconds"] = os.getloadavg(), time.perf_counter() - t0
    rows = summary(R)
    print_table(rows)
    print(
        f"\ntotal {info['total_seconds']:.0f} s; load average {info['load_avg_end']}"
        + ("  (QUICK MODE: sizes are tiny, numbers are not the benchmark)" if a.quick else "")
    )
    save_json(
        Path(a.out),
        {"machine": info, "quick": a.quick, "args": vars(a), "work_dir": str(work), "summary": rows, "results": R},
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
