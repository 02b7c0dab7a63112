"""`lstmgen estimate CORPUS`: time a short burst of real training steps and predict epoch and run durations."""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from lstmgen.config import Config, make_config
from lstmgen.data.prepare import prepared_for_training
from lstmgen.data.prepared import Prepared
from lstmgen.eta.timeparse import fmt_hms
from lstmgen.generation.sample import StepModel
from lstmgen.generation.scoring import stateful_loss
from lstmgen.runtime import backend
from lstmgen.runtime.backend import keras
from lstmgen.training.batches import TrainBatches, ValBatches, steps_in_epoch
from lstmgen.training.runopen import check_trainable
from lstmgen.training.setup import setup_model


class _Clock(keras.callbacks.Callback):
    """Records when each step ends; stops the burst once enough steady-state time has been measured."""

    def __init__(self, warmup: int, min_steps: int, min_seconds: float):
        super().__init__()
        self.warmup, self.min_steps, self.min_seconds = warmup, min_steps, min_seconds
        self.times: list[float] = []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())
        steady = len(self.times) - self.warmup
        if steady >= self.min_steps and self.times[-1] - self.times[self.warmup - 1] >= self.min_seconds:
            self.model.stop_training = True


def time_steps(cfg: Config, data: Prepared, min_seconds: float = 5.0) -> dict:
    """Compile time, seconds per training step, seconds per validation batch and per checkpoint save."""
    setup = setup_model(
        cfg, data.vocab.size, total_steps=1000, seed=cfg.seed or 1, deterministic=False, build_optimizer=False
    )
    model, policy, jit = setup.model, setup.precision, setup.jit
    warmup, budget_steps = 3, 1000
    batches = TrainBatches(data.train, cfg.seq_len, cfg.batch_size, seed=1, steps=budget_steps)
    clock = _Clock(warmup, min_steps=10, min_seconds=min_seconds)
    model.fit(backend.fit_input(batches), epochs=1, verbose=0, shuffle=False, callbacks=[clock])
    t = clock.times
    steady = t[warmup:]
    per_step = (steady[-1] - t[warmup - 1]) / len(steady)
    result = {
        "parameters": model.count_params(),
        "compile_seconds": t[0] - clock.start,
        "seconds_per_step": per_step,
        "measured_steps": len(steady),
        "precision": policy,
        "jit_compile": jit,
    }
    val = ValBatches(data.val, cfg.seq_len, cfg.val_batch_size)
    if len(val):
        few = ValBatches(
            data.val[: min(len(data.val), 3 * cfg.val_batch_size * cfg.seq_len + 1)], cfg.seq_len, cfg.val_batch_size
        )
        t0 = time.perf_counter()
        model.evaluate(
            backend.fit_input(few), verbose=0
        )  # the first call traces the evaluation function: a one-time cost
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.evaluate(backend.fit_input(few), verbose=0)
        windows = len(few.starts)
        result["val_seconds"] = (time.perf_counter() - t0) / windows * len(val.starts)
        result["compile_seconds"] += max(first - (time.perf_counter() - t0), 0.0)
    else:
        result["val_seconds"] = 0.0
    if len(val) and cfg.stateful_val_streams:  # a slice of the stateful pass, scaled to the whole split
        step_model, streams = StepModel.from_keras(model), min(cfg.stateful_val_streams, len(data.val) - 1)
        steps = math.ceil((len(data.val) - 1) / streams)
        probe = min(steps, 200)
        t0 = time.perf_counter()
        stateful_loss(step_model, np.asarray(data.val[: streams * probe + 1]), streams)
        result["val_seconds"] += (time.perf_counter() - t0) / probe * steps
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model.save(Path(tmp) / "probe.keras")
        result["save_seconds"] = time.perf_counter() - t0
    return result


def predict(cfg: Config, data: Prepared, timing: dict) -> dict:
    steps = check_trainable(cfg, data)
    train_s = steps * timing["seconds_per_step"]
    epoch_s = train_s + timing["val_seconds"] + timing["save_seconds"]
    run_s = cfg.epochs * epoch_s
    if cfg.max_minutes:
        run_s = min(run_s, cfg.max_minutes * 60 + timing["val_seconds"] + timing["save_seconds"])
    return {
        "batch_size": cfg.batch_size,
        "seq_len": cfg.seq_len,
        "steps_per_epoch": steps,
        "chars_per_second": cfg.batch_size * cfg.seq_len / timing["seconds_per_step"],
        "epoch_train_seconds": train_s,
        "epoch_seconds": epoch_s,
        "epochs": cfg.epochs,
        "run_seconds": run_s + timing["compile_seconds"],
        **timing,
    }


def what_if_configs(cfg: Config) -> list[Config]:
    variants = [
        (max(1, cfg.batch_size // 2), cfg.seq_len),
        (cfg.batch_size * 2, cfg.seq_len),
        (cfg.batch_size, cfg.seq_len * 2),
    ]
    return [dataclasses.replace(cfg, batch_size=b, seq_len=s) for b, s in variants]


def forecast(
    source: str,
    config_file: str | None = None,
    overrides: dict | None = None,
    what_if: bool = True,
    say: Callable[[str], None] = lambda m: None,
) -> dict:
    from lstmgen.runtime.hardware import describe_machine

    cfg = make_config(config_file, overrides)
    data = prepared_for_training(source, val_fraction=cfg.val_fraction, lowercase=cfg.lowercase)
    check_trainable(cfg, data)  # the same refusals as `lstmgen train`, before any timing
    say("describing the machine …")
    machine = describe_machine(backend.NAME)
    say(f"timing training steps for batch {cfg.batch_size} × {cfg.seq_len} …")
    main = predict(cfg, data, time_steps(cfg, data))
    rows = []
    if what_if:
        for variant in what_if_configs(cfg):
            if steps_in_epoch(len(data.train), variant.seq_len, variant.batch_size) == 0:
                continue
            say(f"timing what-if batch {variant.batch_size} × {variant.seq_len} …")
            rows.append(predict(variant, data, time_steps(variant, data, min_seconds=3.0)))
    return {
        "machine": machine,
        "parameters": main["parameters"],
        "config": cfg.resolved(),
        "train_chars": len(data.train),
        "val_chars": len(data.val),
        "estimate": main,
        "what_if": rows,
        "now": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def format_forecast(f: dict) -> str:
    from lstmgen.runtime.hardware import format_machine

    e, cfg = f["estimate"], f["config"]
    finish = datetime.fromisoformat(f["now"]) + timedelta(seconds=e["run_seconds"])
    lines = [
        format_machine(f["machine"]),
        (
            f"model     {cfg['layers']} × LSTM({cfg['units']}), embedding {cfg['embedding_dim']}, "
            f"{f['parameters']:,} parameters, {e['precision']}, XLA {e['jit_compile']}"
        ),
        (
            f"data      {f['train_chars']:,} training characters → {e['steps_per_epoch']:,} steps/epoch of "
            f"{cfg['batch_size']} × {cfg['seq_len']}; {f['val_chars']:,} validation characters"
        ),
        f"compile   {e['compile_seconds']:.1f} s to trace/compile the training and validation steps (once per run)",
        (
            f"speed     {e['seconds_per_step'] * 1000:.1f} ms/step = {e['chars_per_second']:,.0f} chars/s "
            f"(measured over {e['measured_steps']} steps)"
        ),
        (
            f"epoch     {fmt_hms(e['epoch_seconds'])} = {fmt_hms(e['epoch_train_seconds'])} training + "
            f"{e['val_seconds']:.1f} s validation + {e['save_seconds']:.1f} s checkpoint"
        ),
        (
            f"run       {e['epochs']} epochs → {fmt_hms(e['run_seconds'])}, finishing about "
            f"{finish:%Y-%m-%d %H:%M} if started now"
        ),
    ]
    if f["what_if"]:
        lines.append("\nwhat if     batch × seq   ms/step    chars/s     epoch       run")
        for r in [e] + f["what_if"]:
            mark = "  (config)" if r is e else ""
            lines.append(
                f"          {r['batch_size']:>7} × {r['seq_len']:<5} {r['seconds_per_step'] * 1000:8.1f} "
                f"{r['chars_per_second']:10,.0f} {fmt_hms(r['epoch_seconds']):>9} "
                f"{fmt_hms(r['run_seconds']):>9}{mark}"
            )
        lines.append("(bigger batches are cheaper per character but give fewer updates per epoch)")
    return "\n".join(lines)


def _finite(x):
    return x if not isinstance(x, float) or math.isfinite(x) else None


def to_json(f: dict) -> dict:
    return {
        k: (
            to_json(v)
            if isinstance(v, dict)
            else [to_json(i) if isinstance(i, dict) else i for i in v]
            if isinstance(v, list)
            else _finite(v.item() if isinstance(v, np.generic) else v)
        )
        for k, v in f.items()
    }
