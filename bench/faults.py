"""Fault injection: SIGKILL `lstmgen train` at random moments and during saves, resume, compare with a clean run.

The campaign:
  1. `lstmgen prepare` the corpus once.
  2. Reference: one uninterrupted `python -m lstmgen train PREP -o REF <train args> --seed S -q`, timed.
  3. Faulted run: the same command with `-o RUN`, then `python -m lstmgen train RUN -q` again and again; each
     process is SIGKILLed once — half of the kills at a uniformly random moment after its first training step
     was logged, half the moment a save is in progress (a `.tmp-*` file appears in RUN or RUN/checkpoints,
     polled every 2 ms, after a random arming delay so the kills spread over the run). After every kill each
     committed checkpoint (`ckpt-*.json` + its `.keras`) and latest/best.keras are loaded with
     `keras.saving.load_model(..., compile=False, safe_mode=True)`; the next resume must report the newest
     committed checkpoint, and steps lost = last step logged before the kill − that checkpoint's global step
     must be at most the checkpoint interval (`--checkpoint-steps`).
  4. The run is then left to finish.
  5. Final weights of REF/latest.keras and RUN/latest.keras must be bit-identical (every array of the model,
     and every array of the saved weights file, optimizer state included) and every epoch's val_loss in
     metrics.csv must match the reference to 1e-4.

    python bench/faults.py                       # 20 kills, tiny-shakespeare, small 2x64 model (about 5-10 min)
    python bench/faults.py --quick               # 3 kills on builtin:reber, tiny model (what CI runs, < 1 min)
    python bench/faults.py --extra "--mixed-precision bf16"   # is bf16 resume bit-exact too?

Exit status 0 when every check passed, 1 otherwise. Results go to --out (default bench/results/faults.json).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CORPUS = REPO / ".." / "shared" / "data" / "tinyshakespeare.txt"

QUICK_SOURCE = "builtin:reber"
QUICK_ARGS = [
    "--config",
    "smoke",
    "--units",
    "32",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "60",
    "--checkpoint-steps",
    "10",
    "--log-every-steps",
    "1",
    "--mixed-precision",
    "off",
]
FULL_ARGS = [
    "--config",
    "cpu",
    "--units",
    "64",
    "--layers",
    "2",
    "--seq-len",
    "64",
    "--batch-size",
    "32",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "150",
    "--checkpoint-steps",
    "20",
    "--log-every-steps",
    "1",
    "--mixed-precision",
    "off",
]

STEP_RE = re.compile(r"^\S+ \S+ epoch (\d+)/(\d+) step (\d+)/(\d+) loss ")
RESUME_RE = re.compile(r"resuming from (ckpt-(\d+)\.keras): epoch (\d+), step (\d+) \(global step (\d+)\)")
TMP_MARK = ".tmp-"
POLL = 0.002
ATTEMPT_TIMEOUT = 600.0


class CampaignError(RuntimeError):
    pass


# --- small helpers ---------------------------------------------------------------------------------------------
def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("LSTMGEN_DEBUG", None)
    return env


def _lstmgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "lstmgen", *args]


def _option(args: list[str], name: str, default=None):
    value = default
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def _parse_time(stamp: str) -> float:
    from datetime import datetime

    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def step_lines(text: str) -> list[tuple[float, int, int]]:
    """(time, global step, steps per epoch) for every complete per-step line of a train.log chunk."""
    out = []
    for line in text.splitlines():
        m = STEP_RE.match(line)
        if m:
            epoch, step, spe = int(m.group(1)), int(m.group(3)), int(m.group(4))
            out.append((_parse_time(line[:23]), (epoch - 1) * spe + step, spe))
    return out


class LogTail:
    """New complete lines of train.log since a given offset (the file is appended by every process)."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.start = self.offset
        self.buf = ""

    def new_lines(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                f.seek(self.offset)
                chunk = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return []
        self.buf += chunk
        *lines, self.buf = self.buf.split("\n")
        return lines

    def since_start(self) -> str:
        with open(self.path, encoding="utf-8", errors="replace") as f:
            f.seek(self.start)
            return f.read()


def _temps(run: Path) -> list[str]:
    found = []
    for d in (run, run / "checkpoints"):
        try:
            with os.scandir(d) as it:
                found += [os.path.join(d.name, e.name) for e in it if e.name.startswith(TMP_MARK)]
        except FileNotFoundError:
            pass
    return found


# --- checkpoint inspection ----------------------------------------------------------------------------------
class Loader:
    """Loads .keras files in this process (Keras imported lazily); a file already loaded is not loaded again."""

    def __init__(self):
        self._ok: dict[tuple, str | None] = {}
        self.keras = None

    def _import(self):
        if self.keras is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            # TensorFlow's C++ layer prints INFO lines (oneDNN, CUDA probing) before absl logging is set up,
            # which no environment variable silences: keep fd 2 on /dev/null while importing.
            saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 2)
                import keras

                if keras.backend.backend() == "tensorflow":
                    import tensorflow as tf

                    tf.config.list_physical_devices()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                os.close(devnull)
            self.keras = keras
        return self.keras

    def load(self, path: Path):
        keras = self._import()
        return keras.saving.load_model(str(path), compile=False, safe_mode=True)

    def check(self, path: Path) -> str | None:
        """None if `path` loads, else the reason."""
        st = path.stat()
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in self._ok:
            try:
                self.load(path)
                self._ok[key] = None
            except Exception as e:  # any failure to load is the finding
                self._ok[key] = f"{type(e).__name__}: {e}"
        return self._ok[key]


def inspect_run(run: Path, loader: Loader, steps_per_epoch: int | None) -> dict:
    """Every committed checkpoint of `run` (and latest/best.keras) loaded; orphans and temp files listed."""
    ckdir = run / "checkpoints"
    committed, problems = [], []
    for js in sorted(ckdir.glob("ckpt-*.json")):
        try:
            state = json.loads(js.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            problems.append(f"{js.name}: unreadable state ({type(e).__name__})")
            continue
        gstep = int(js.stem.split("-")[1])
        if state.get("global_step") != gstep:
            problems.append(f"{js.name}: global_step {state.get('global_step')} != file name")
        if steps_per_epoch and state.get("epoch", 0) * steps_per_epoch + state.get("step", 0) != gstep:
            problems.append(f"{js.name}: epoch {state.get('epoch')} step {state.get('step')} != global step {gstep}")
        model = js.with_suffix(".keras")
        if not model.is_file():
            problems.append(f"{js.name}: committed but {model.name} is missing")
            continue
        why = loader.check(model)
        if why:
            problems.append(f"{model.name}: does not load ({why})")
        committed.append(gstep)
    links = {}
    for name in ("latest.keras", "best.keras"):
        p = run / name
        if p.exists():
            why = loader.check(p)
            links[name] = why is None
            if why:
                problems.append(f"{name}: does not load ({why})")
    orphans = sorted(p.name for p in ckdir.glob("ckpt-*.keras") if not p.with_suffix(".json").exists())
    return {
        "committed": committed,
        "newest": max(committed, default=0),
        "problems": problems,
        "all_loadable": not problems,
        "links": links,
        "orphans": orphans,
        "temps": sorted(_temps(run)),
    }


def _weights_file_arrays(path: Path) -> dict:
    """Every dataset of the .keras archive's model.weights.h5 (layers and optimizer state)."""
    import h5py
    import numpy as np

    with zipfile.ZipFile(path) as z:
        data = z.read("model.weights.h5")
    arrays = {}
    with h5py.File(io.BytesIO(data), "r") as h5:
        h5.visititems(
            lambda name, obj: arrays.__setitem__(name, np.array(obj)) if isinstance(obj, h5py.Dataset) else None
        )
    return arrays


def compare_models(a: Path, b: Path, loader: Loader) -> dict:
    import numpy as np

    wa, wb = loader.load(a).get_weights(), loader.load(b).get_weights()
    same_shapes = len(wa) == len(wb) and all(x.shape == y.shape for x, y in zip(wa, wb, strict=True))
    max_diff = (
        max(float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) for x, y in zip(wa, wb, strict=True))
        if same_shapes
        else float("inf")
    )
    exact = same_shapes and all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))
    out = {"arrays": len(wa), "bit_exact": exact, "max_abs_diff": max_diff}
    try:
        fa, fb = _weights_file_arrays(a), _weights_file_arrays(b)
        differ = sorted(
            k
            for k in set(fa) | set(fb)
            if k not in fa or k not in fb or fa[k].shape != fb[k].shape or not np.array_equal(fa[k], fb[k])
        )
        out.update({"file_arrays": len(fa), "file_arrays_differing": differ, "file_bit_exact": not differ})
    except Exception as e:  # h5py missing or a format change: report, do not fail the weights check
        out.update({"file_bit_exact": None, "file_error": f"{type(e).__name__}: {e}"})
    return out


def read_metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _float(v):
    return None if v in (None, "") else float(v)


# --- one process -------------------------------------------------------------------------------------------
def run_attempt(cmd: list[str], run: Path, kind: str | None, delay: float, out_path: Path, cwd: Path) -> dict:
    """Start `cmd`; unless kind is None, SIGKILL it `delay` s after its first logged step ("random") or at the
    first save in progress after that ("save"). Returns what happened."""
    tail = LogTail(run / "train.log")
    t0 = time.monotonic()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=_env())
    first_step_at = None
    killed, seen_tmp = False, []
    try:
        while True:
            now = time.monotonic()
            if now - t0 > ATTEMPT_TIMEOUT:
                proc.kill()
                proc.wait()
                raise CampaignError(f"{' '.join(cmd)} ran more than {ATTEMPT_TIMEOUT:.0f} s; see {out_path}")
            if kind is not None:
                if first_step_at is None and any(STEP_RE.match(line) for line in tail.new_lines()):
                    first_step_at = now
                if first_step_at is not None and now >= first_step_at + delay:
                    if kind == "random":
                        seen_tmp = _temps(run)
                        proc.send_signal(signal.SIGKILL)
                        killed = True
                    else:
                        seen_tmp = _temps(run)
                        if seen_tmp:
                            proc.send_signal(signal.SIGKILL)
                            killed = True
            if killed or proc.poll() is not None:
                break
            time.sleep(POLL)
    finally:
        if proc.poll() is None and not killed:
            proc.kill()
        rc = proc.wait()
    wall = time.monotonic() - t0
    output = out_path.read_text(encoding="utf-8", errors="replace")
    steps = step_lines(tail.since_start()) if (run / "train.log").exists() else []
    m = RESUME_RE.search(output)
    span = steps[-1][1] - steps[0][1] if steps else 0
    return {
        "step_seconds": (steps[-1][0] - steps[0][0]) / span if span >= 5 else None,
        "rc": rc,
        "killed": killed and rc == -signal.SIGKILL,
        "wall_seconds": round(wall, 3),
        "seconds_after_first_step": None if first_step_at is None else round(time.monotonic() - first_step_at, 3),
        "tmp_files_at_kill": seen_tmp,
        "last_logged_step": steps[-1][1] if steps else None,
        "steps_per_epoch": steps[-1][2] if steps else None,
        "first_logged_step": steps[0][1] if steps else None,
        "resumed_from": int(m.group(5)) if m else (0 if steps else None),
        "resume_line": m.group(0) if m else None,
        "removed_temps": "unfinished temporary file" in output,
        "output": output[-2000:],
    }


# --- the campaign -----------------------------------------------------------------------------------------------
def run_campaign(
    source: str,
    workdir,
    kills: int,
    seed: int,
    train_args: list[str],
    rng_seed: int,
    log: Callable[[str], None] = print,
) -> dict:
    """Run the whole fault campaign in `workdir` (created; must be empty or absent). Returns the results dict
    with `ok` (all checks passed) and `failures` (what did not)."""
    t_start = time.monotonic()
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    prep, ref, run = work / "prep", work / "ref", work / "run"
    rng = random.Random(rng_seed)
    failures: list[str] = []
    train_args = list(train_args)
    interval = int(_option(train_args, "--checkpoint-steps", 0) or 0)
    if interval <= 0:
        raise CampaignError("train args must set --checkpoint-steps N (the interval steps lost are checked against)")

    # 1. prepare
    src = source if ":" in source.split("/")[0] else str(Path(source).resolve())
    r = subprocess.run(
        _lstmgen("prepare", src, "-o", str(prep), "-q"), cwd=work, env=_env(), capture_output=True, text=True
    )
    if r.returncode != 0:
        raise CampaignError(f"lstmgen prepare {src} failed ({r.returncode}): {r.stderr.strip()}")

    # 2. reference
    base_cmd = _lstmgen("train", str(prep), *train_args, "--seed", str(seed), "-q")
    log(f"reference: {shlex.join([*base_cmd, '-o', str(ref)])}")
    t0 = time.monotonic()
    ref_attempt = run_attempt([*base_cmd, "-o", str(ref)], ref, None, 0.0, logs / "reference.txt", work)
    ref_wall = time.monotonic() - t0
    if ref_attempt["rc"] != 0:
        raise CampaignError(f"reference run failed ({ref_attempt['rc']}): {ref_attempt['output'][-1000:]}")
    ref_steps = step_lines((ref / "train.log").read_text(encoding="utf-8"))
    spe = ref_steps[-1][2]
    total = ref_steps[-1][1]
    step_time = (ref_steps[-1][0] - ref_steps[0][0]) / max(total - 1, 1)  # saves and validation included
    startup = ref_wall - (ref_steps[-1][0] - ref_steps[0][0])
    log(
        f"reference: {ref_wall:.1f} s wall, {total} steps ({spe}/epoch), {step_time * 1000:.1f} ms/step incl. "
        f"saves, {startup:.1f} s start-up + first step + exit"
    )

    loader = Loader()
    loader._import()  # import Keras now, not between a kill and the next start

    # 3. faulted run
    kinds = ["random"] * ((kills + 1) // 2) + ["save"] * (kills // 2)
    rng.shuffle(kinds)
    rows: list[dict] = []
    pending: dict | None = None  # the last kill, waiting for the next resume to report where it resumed
    position = 0  # global step the current process starts from
    attempt_no = 0

    def settle(prev: dict, attempt: dict) -> None:
        resumed = attempt["resumed_from"]
        prev["resumed_from"] = resumed
        if resumed is None or prev["killed_at"] is None:
            failures.append(f"kill {prev['kill']}: could not tell where the next process resumed")
            return
        prev["steps_lost"] = prev["killed_at"] - resumed
        prev["resumed_from_newest"] = resumed == prev["newest_on_disk"]
        if not prev["resumed_from_newest"]:
            failures.append(
                f"kill {prev['kill']}: resumed from step {resumed}, but the newest committed "
                f"checkpoint on disk was step {prev['newest_on_disk']}"
            )
        if not 0 <= prev["steps_lost"] <= interval:
            failures.append(
                f"kill {prev['kill']}: lost {prev['steps_lost']} steps (killed after step "
                f"{prev['killed_at']}, resumed from {resumed}), more than the interval {interval}"
            )

    for k, kind in enumerate(kinds, 1):
        # Kill moments are uniform in [0, window] after the first logged step. The window aims the expected kill
        # at an even share of the remaining steps plus what a kill loses (about half an interval, more for kills
        # during saves), so the kills spread over the whole run, and stays below the remaining time so the run
        # cannot finish before the kill.
        left = max(total - position, 1)
        window = min(0.8 * left, 2.0 * (left / (len(kinds) - k + 1) + 0.6 * interval)) * step_time
        delay = rng.uniform(0.0, window)
        cmd = [*base_cmd, "-o", str(run)] if attempt_no == 0 else _lstmgen("train", str(run), "-q")
        attempt = run_attempt(cmd, run, kind, delay, logs / f"attempt-{attempt_no:02d}.txt", work)
        attempt_no += 1
        if attempt["step_seconds"]:  # the machine may be faster now than during the reference: plan with the faster
            step_time = min(step_time, attempt["step_seconds"])
        if pending is not None:
            settle(pending, attempt)
            pending = None
        if not attempt["killed"]:
            if attempt["rc"] != 0:
                raise CampaignError(f"attempt {attempt_no} exited with {attempt['rc']}: {attempt['output'][-1000:]}")
            log(f"the run finished before kill {k}; {k - 1} kills happened")
            break
        state = inspect_run(run, loader, spe)
        row = {
            "kill": k,
            "kind": kind,
            "delay_s": round(delay, 3),
            "killed_at": attempt["last_logged_step"],
            "started_from": attempt["resumed_from"],
            "tmp_files_at_kill": attempt["tmp_files_at_kill"],
            "checkpoints": state["committed"],
            "newest_on_disk": state["newest"],
            "orphans": state["orphans"],
            "temps_left": state["temps"],
            "all_loadable": state["all_loadable"],
            "problems": state["problems"],
            "resumed_from": None,
            "steps_lost": None,
            "resumed_from_newest": None,
            "wall_seconds": attempt["wall_seconds"],
        }
        if not state["all_loadable"]:
            failures.append(f"kill {k}: " + "; ".join(state["problems"]))
        rows.append(row)
        pending = row
        position = state["newest"]
        log(
            f"kill {k:>2} ({kind:<6}) after step {row['killed_at']}, "
            f"{len(state['committed'])} checkpoints {'all load' if state['all_loadable'] else 'NOT ALL LOAD'}"
            + (f", save in progress: {', '.join(row['tmp_files_at_kill'])}" if row["tmp_files_at_kill"] else "")
        )

    # 4. let it finish
    final = run_attempt(_lstmgen("train", str(run), "-q"), run, None, 0.0, logs / f"attempt-{attempt_no:02d}.txt", work)
    if pending is not None:
        settle(pending, final)
    completed = final["rc"] == 0
    if not completed:
        failures.append(f"the final resume exited with {final['rc']}: {final['output'][-500:]}")
    end_state = inspect_run(run, loader, spe)
    if not end_state["all_loadable"]:
        failures.append("after the run: " + "; ".join(end_state["problems"]))
    ckpts = sorted((run / "checkpoints").glob("ckpt-*.json"))
    last = json.loads(ckpts[-1].read_text(encoding="utf-8")) if ckpts else {}
    if last.get("global_step") != total or last.get("epoch") != total // spe:
        failures.append(
            f"the faulted run ended at global step {last.get('global_step')}, epoch "
            f"{last.get('epoch')}; the reference at {total}, epoch {total // spe}"
        )
        completed = False

    # 5. compare with the reference
    cmp = compare_models(ref / "latest.keras", run / "latest.keras", loader) if completed else {}
    ref_rows, run_rows = read_metrics(ref), read_metrics(run)
    val_ref = _float(ref_rows[-1]["val_loss"]) if ref_rows else None
    val_run = _float(run_rows[-1]["val_loss"]) if run_rows else None
    val_match = val_ref is not None and val_run is not None and abs(val_ref - val_run) <= 1e-4
    epochs_ok = [r["epoch"] for r in run_rows] == [r["epoch"] for r in ref_rows] and len(ref_rows) == total // spe
    per_epoch = [
        {
            "epoch": int(a["epoch"]),
            "val_loss_ref": _float(a["val_loss"]),
            "val_loss_run": _float(b["val_loss"]),
            "loss_ref": _float(a["loss"]),
            "loss_run": _float(b["loss"]),
        }
        for a, b in zip(ref_rows, run_rows, strict=False)
    ]  # unequal lengths: epochs_ok says so
    rows_val_ok = epochs_ok and all(
        p["val_loss_ref"] is not None
        and p["val_loss_run"] is not None
        and abs(p["val_loss_ref"] - p["val_loss_run"]) <= 1e-4
        for p in per_epoch
    )
    loss_col_ok = epochs_ok and all(p["loss_ref"] == p["loss_run"] for p in per_epoch)
    if completed and not cmp.get("bit_exact") and not val_match:
        failures.append(
            f"final weights differ (max |diff| {cmp.get('max_abs_diff')}) and val_loss differs by more "
            f"than 1e-4 ({val_ref} vs {val_run})"
        )
    if not val_match:
        failures.append(f"final val_loss {val_run} != reference {val_ref} (tolerance 1e-4)")
    if not rows_val_ok:
        failures.append(
            f"metrics.csv rows differ: reference epochs {[r['epoch'] for r in ref_rows]}, faulted "
            f"{[r['epoch'] for r in run_rows]}; per epoch {per_epoch}"
        )
    done = rows
    if len(done) < kills:
        failures.append(f"only {len(done)} of {kills} kills happened before the run finished")
    lost = [r["steps_lost"] for r in done if r["steps_lost"] is not None]
    summary = {
        "kills_requested": kills,
        "kills": len(done),
        "kills_random": sum(r["kind"] == "random" for r in done),
        "kills_during_save": sum(r["kind"] == "save" for r in done),
        "kills_with_tmp_file_present": sum(bool(r["tmp_files_at_kill"]) for r in done),
        "max_steps_lost": max(lost, default=None),
        "mean_steps_lost": round(sum(lost) / len(lost), 2) if lost else None,
        "checkpoint_interval": interval,
        "all_checkpoints_loadable": all(r["all_loadable"] for r in done) and end_state["all_loadable"],
        "always_resumed_from_newest": all(r["resumed_from_newest"] for r in done),
        "completed": completed,
        "bit_exact": cmp.get("bit_exact"),
        "max_abs_weight_diff": cmp.get("max_abs_diff"),
        "weights_file_bit_exact_incl_optimizer": cmp.get("file_bit_exact"),
        "val_loss_ref": val_ref,
        "val_loss_faulted": val_run,
        "val_loss_match_1e-4": val_match,
        "metrics_rows_match": rows_val_ok,
        "train_loss_column_matches": loss_col_ok,
        "orphan_keras_files_at_end": end_state["orphans"],
        "reference_wall_seconds": round(ref_wall, 2),
        "total_wall_seconds": round(time.monotonic() - t_start, 1),
    }
    return {
        "ok": not failures,
        "failures": failures,
        "summary": summary,
        "kills": rows,
        "per_epoch": per_epoch,
        "comparison": cmp,
        "reference": {
            "command": [*base_cmd, "-o", str(ref)],
            "steps": total,
            "steps_per_epoch": spe,
            "ms_per_step": round(step_time * 1000, 2),
        },
        "source": source,
        "seed": seed,
        "rng_seed": rng_seed,
        "train_args": train_args,
        "workdir": str(work),
        "final_output": final["output"],
    }


def format_report(res: dict) -> str:
    s = res["summary"]
    lines = [
        (
            f"{'kill':>4}  {'kind':<11} {'killed at':>9} {'resumed from':>12} {'lost':>4}  {'ckpts on disk':<26} "
            f"{'loadable':<8} save in progress"
        )
    ]
    for r in res["kills"]:
        kind = "during-save" if r["kind"] == "save" else "random"
        lost = "?" if r["steps_lost"] is None else r["steps_lost"]
        resumed = "?" if r["resumed_from"] is None else r["resumed_from"]
        lines.append(
            f"{r['kill']:>4}  {kind:<11} {r['killed_at']!s:>9} {resumed!s:>12} {lost!s:>4}  "
            f"{','.join(map(str, r['checkpoints'])) or '-':<26} {'yes' if r['all_loadable'] else 'NO':<8} "
            f"{', '.join(r['tmp_files_at_kill']) or '-'}"
        )
    diff = s["max_abs_weight_diff"]
    lines += [
        "",
        (
            f"kills: {s['kills']} of {s['kills_requested']} ({s['kills_random']} random, {s['kills_during_save']} "
            f"during a save; a temp file was present at {s['kills_with_tmp_file_present']} kills)"
        ),
        (
            f"steps lost per kill: max {s['max_steps_lost']}, mean {s['mean_steps_lost']} "
            f"(checkpoint interval {s['checkpoint_interval']})"
        ),
        (
            f"every checkpoint loadable after every kill: {'yes' if s['all_checkpoints_loadable'] else 'NO'}; "
            "resumed from the newest committed checkpoint every time: "
            f"{'yes' if s['always_resumed_from_newest'] else 'NO'}"
        ),
        f"run completed: {'yes' if s['completed'] else 'NO'}",
        (
            f"final weights bit-exact: {'yes' if s['bit_exact'] else 'NO'} (max |diff| "
            f"{'-' if diff is None else f'{diff:.3g}'}); whole weights file incl. optimizer state bit-exact: "
            f"{ {True: 'yes', False: 'NO', None: 'n/a'}[s['weights_file_bit_exact_incl_optimizer']] }"
        ),
        (
            f"final val_loss: reference {s['val_loss_ref']}, faulted {s['val_loss_faulted']} "
            f"({'match' if s['val_loss_match_1e-4'] else 'MISMATCH'} to 1e-4); every epoch's val_loss matches: "
            f"{'yes' if s['metrics_rows_match'] else 'NO'}; train-loss column matches: "
            f"{'yes' if s['train_loss_column_matches'] else 'no'}"
        ),
        f"wall time: {s['total_wall_seconds']:.0f} s in all (reference run {s['reference_wall_seconds']:.1f} s)",
    ]
    if s["orphan_keras_files_at_end"]:
        lines.append(f"uncommitted .keras files left in checkpoints/: {', '.join(s['orphan_keras_files_at_end'])}")
    lines.append("PASS" if res["ok"] else "FAIL:\n  " + "\n  ".join(res["failures"]))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=None, help="SIGKILLs to inject (default 20, 3 with --quick)")
    p.add_argument(
        "--corpus", default=None, help=f"text to train on (default {DEFAULT_CORPUS}; {QUICK_SOURCE} with --quick)"
    )
    p.add_argument("--quick", action="store_true", help="tiny model on builtin:reber, 3 kills (the CI version)")
    p.add_argument("--seed", type=int, default=1234, help="lstmgen train --seed")
    p.add_argument("--rng-seed", type=int, default=None, help="seed of the kill schedule (default: random)")
    p.add_argument("--extra", default="", help='more lstmgen train options, appended, e.g. "--mixed-precision bf16"')
    p.add_argument("--workdir", help="where the runs go (default: a new temp dir, kept)")
    p.add_argument("--out", default=str(HERE / "results" / "faults.json"))
    a = p.parse_args(argv)
    kills = a.kills if a.kills is not None else (3 if a.quick else 20)
    source = a.corpus or (QUICK_SOURCE if a.quick else str(DEFAULT_CORPUS.resolve()))
    train_args = (QUICK_ARGS if a.quick else FULL_ARGS) + shlex.split(a.extra)
    rng_seed = a.rng_seed if a.rng_seed is not None else random.SystemRandom().randrange(2**31)
    workdir = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="bench_faults_"))
    print(
        f"fault campaign: {kills} kills, source {source}, workdir {workdir}, kill schedule seed {rng_seed}", flush=True
    )
    res = run_campaign(source, workdir, kills, a.seed, train_args, rng_seed, log=lambda m: print(m, flush=True))
    res["quick"] = a.quick
    try:
        from importlib.metadata import version

        res["versions"] = {"tensorflow": version("tensorflow"), "keras": version("keras")}
    except Exception:
        pass
    print()
    print(format_report(res))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
