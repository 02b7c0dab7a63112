"""Training: prepared ids → model → `model.fit` one epoch at a time, with checkpoints, metrics and a log."""

from __future__ import annotations

import contextlib
import math
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lstmgen import __version__, atomic
from lstmgen.backend import keras
from lstmgen import backend, distribute, fused
from lstmgen.config import DATA_KEYS, SHAPE_KEYS, Config, dump_yaml, make_config
from lstmgen.corpus import Prepared, prepared_for_training
from lstmgen.rundata import run_data
from lstmgen.dataset import TrainBatches, ValBatches, steps_in_epoch
from lstmgen.epoch_report import EpochReport
from lstmgen.errors import UserError
from lstmgen.model import build_model, compile_model, model_shape, restore_seed_states, seed_states
from lstmgen.progress import TrainMonitor, ValidationBar
from lstmgen.rundir import DEFAULT_RUNS, RunDir, is_run_dir, now_iso
from lstmgen.vocab import Vocab

LN2 = math.log(2)


@dataclass
class TrainResult:
    run_dir: Path
    status: str  # finished | interrupted | time budget reached | already finished
    epochs_done: int
    global_step: int
    best_val_loss: float | None


def _say_default(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class StopFlag:
    """SIGINT/SIGTERM ask training to stop after the current step; a second SIGINT abandons it at once."""

    def __init__(self):
        self.reason: str | None = None
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.reason is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.reason = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _memory_bytes() -> int:
    try:
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_fits(cfg: Config, vocab_size: int) -> None:
    """Refuse settings whose activations cannot fit in memory (logits + gates, forward and backward)."""
    per_position = 4 * (3 * vocab_size + cfg.layers * 12 * cfg.units + cfg.embedding_dim)
    need = cfg.batch_size * cfg.seq_len * per_position
    total = _memory_bytes()
    if total and need > 0.8 * total:
        raise UserError(f"batch_size × seq_len = {cfg.batch_size} × {cfg.seq_len} needs about {need / 2**30:.1f} GiB "
                        f"of activations, more than this machine's {total / 2**30:.1f} GiB; lower --batch-size or "
                        "--seq-len")


def check_trainable(cfg: Config, data: Prepared) -> int:
    """Refuse settings that cannot work before anything is written; returns the steps per epoch."""
    check_fits(cfg, data.vocab.size)
    if steps_in_epoch(len(data.train), cfg.seq_len, cfg.batch_size) == 0:
        raise UserError(f"the training split has {len(data.train):,} characters, fewer than one batch of "
                        f"{cfg.batch_size} × {cfg.seq_len + 1}; lower --batch-size or --seq-len, or use more text")
    return cfg.steps_per_epoch or steps_in_epoch(len(data.train), cfg.seq_len, cfg.batch_size)


class Trainer:
    def __init__(self, run: RunDir, cfg: Config, data: Prepared, say: Callable[[str], None], quiet: bool,
                 plan: distribute.Plan | None = None):
        self.run, self.cfg, self.data, self.say, self.quiet = run, cfg, data, say, quiet
        self.plan = plan or distribute.setup(cfg)
        self.steps = check_trainable(cfg, data)
        self.has_val = len(data.val) > cfg.seq_len
        self.report: EpochReport | None = None  # loss plot, TensorBoard, per-epoch samples (set by train())
        self.state = {"epoch": 0, "step": 0, "global_step": 0, "train_seconds": 0.0, "wall_seconds": 0.0,
                      "epoch_loss_sum": 0.0, "epoch_loss_steps": 0, "epoch_elapsed": 0.0,
                      "best_val_loss": None,
                      "best_epoch": None, "history": [], "seed": cfg.seed}

    # --- model --------------------------------------------------------------------------------------------
    def build(self) -> None:
        cfg = self.cfg
        self.threads = backend.set_threads(cfg.threads)
        backend.seed_everything(cfg.seed)
        self.policy = backend.set_precision(cfg.mixed_precision)
        self.jit = backend.resolve_jit(cfg.jit_compile, self.policy)
        self.kernel = fused.install(cfg.lstm_kernel)
        self.model = build_model(cfg, self.data.vocab.size)
        compile_model(self.model, self.plan.scaled(cfg), total_steps=cfg.epochs * self.steps, jit_compile=self.jit)
        self.model.optimizer.build(self.model.trainable_variables)

    def restore(self) -> None:
        """Load the newest readable checkpoint (falling back to older ones), weights and optimizer state."""
        for path, state in self.run.checkpoints():
            try:
                self.model.load_weights(path)
            except Exception as e:  # a damaged file can fail in h5py, zipfile or Keras itself
                self.say(f"checkpoint {path.name} is unreadable ({e.__class__.__name__}); trying an older one")
                continue
            self.state.update({k: state[k] for k in self.state if k in state})
            restore_seed_states(self.model, state.get("seed_states"))
            self.say(f"resuming from {path.name}: epoch {state['epoch'] + 1}, step {state['step']} "
                     f"(global step {state['global_step']})")
            return
        if self.run.checkpoints():
            raise UserError(f"no checkpoint in '{self.run.path}' could be read; start a new run with -o")

    # --- checkpoints ----------------------------------------------------------------------------------
    def save_checkpoint(self, best: bool = False, status: str = "running") -> None:
        if not self.plan.is_chief:  # replicas hold the same weights: one copy, written by process 0
            return
        gstep = self.state["global_step"]
        path = self.run.checkpoint_path(gstep)
        try:
            with atomic.atomic_path(path) as tmp, self.plan.local():
                self.model.save(tmp)
            state = {"format": "lstmgen-checkpoint", "lstmgen_version": __version__, "time": now_iso(),
                     "status": status, **self.state, "config": self.cfg.resolved(),
                     "seed_states": seed_states(self.model)}
            self.run.commit_checkpoint(gstep, state, keep=self.cfg.keep_checkpoints, best=best)
            self.run.write_metrics(self.state["history"])
        except OSError as e:
            raise UserError(f"could not save a checkpoint in '{self.run.path}': {e.strerror or e}; free space or fix "
                            "permissions, then resume (earlier checkpoints are intact)") from None

    def log(self, message: str) -> None:
        """A train.log line, written by the chief only."""
        if self.plan.is_chief:
            self.run.log(message)

    def log_interrupted(self) -> None:
        st = self.state
        self.log(f"interrupted epoch={st['epoch'] + 1} step={st['step']} (resume with: lstmgen train {self.run.path})")

    # --- the loop ---------------------------------------------------------------------------------------
    def validate(self) -> float | None:
        """The validation loss over all replicas (Keras returns the global mean of the sharded batches)."""
        if not self.has_val:
            return None
        val = ValBatches(self.data.val, self.cfg.seq_len, self.cfg.val_batch_size, replicas=self.plan.replicas,
                         shard=self.plan.shard)
        return float(self.model.evaluate(backend.fit_input(val), verbose=0,
                                         callbacks=[ValidationBar(len(val), self.quiet)]))

    def learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def fit(self, stop: StopFlag) -> str:
        cfg, st = self.cfg, self.state
        batches = TrainBatches(self.data.train, cfg.seq_len, cfg.batch_size, cfg.seed, self.steps,
                               shard=self.plan.shard)
        if self.plan.replicas > 1:
            self.log(self.plan.describe())
        self.log(f"start run={self.run.path} epochs={cfg.epochs} steps_per_epoch={self.steps} "
                 f"batch={cfg.batch_size} seq_len={cfg.seq_len} "
                 f"resumed_from={'global_step_%d' % st['global_step'] if st['global_step'] else 'none'}")
        budget = cfg.max_minutes * 60 or math.inf
        mark = time.monotonic()  # wall time is accounted from here: steps, validation, saves and reports
        while st["epoch"] < cfg.epochs:
            if st["step"] >= self.steps:
                st["epoch"], st["step"] = st["epoch"] + 1, 0
                continue
            batches.set_epoch(st["epoch"], st["step"])
            monitor = TrainMonitor(self, stop, budget, batches.start_step)
            epoch_start = time.monotonic()
            fit_logs = self.model.fit(backend.fit_input(batches), epochs=1, verbose=0, shuffle=False,
                                      callbacks=[monitor])
            if monitor.stopped:
                monitor.close()
                st["wall_seconds"] += time.monotonic() - mark
                reason = "time budget reached" if monitor.stopped == "budget" else "interrupted"
                self.save_checkpoint(status=reason)
                self.log_interrupted()
                return reason
            val_loss = self.validate()
            monitor.close()
            now = time.monotonic()
            st["wall_seconds"] += now - mark  # includes the previous epoch's checkpoint save and report
            mark = now
            epoch_seconds = monitor.base[2] + now - epoch_start  # earlier parts of a resumed epoch included
            loss = (st["epoch_loss_sum"] / st["epoch_loss_steps"] if st["epoch_loss_steps"]
                    else float(fit_logs.history["loss"][-1]))
            st["epoch"], st["step"] = st["epoch"] + 1, 0
            st["epoch_loss_sum"], st["epoch_loss_steps"], st["epoch_elapsed"] = 0.0, 0, 0.0
            score = val_loss if val_loss is not None else loss
            best = st["best_val_loss"] is None or score < st["best_val_loss"]
            if best:
                st["best_val_loss"], st["best_epoch"] = score, st["epoch"]
            st["history"].append({
                "epoch": st["epoch"], "global_step": st["global_step"], "train_seconds": round(st["train_seconds"], 3),
                "wall_seconds": round(st["wall_seconds"], 3), "epoch_seconds": round(epoch_seconds, 3), "loss": round(loss, 5),
                "val_loss": None if val_loss is None else round(val_loss, 5),
                "val_bpc": None if val_loss is None else round(val_loss / LN2, 5),
                "learning_rate": self.learning_rate(), "time": now_iso()})
            self.save_checkpoint(best=best, status="interrupted" if stop.reason else "running")
            val_text = (f"val_loss {val_loss:.4f} val_bpc {val_loss / LN2:.4f}" if val_loss is not None
                        else "val_loss nan val_bpc nan")
            self.log(f"epoch {st['epoch']}/{cfg.epochs} end steps {self.steps}/{self.steps} "
                     f"time {epoch_seconds:.2f}s loss {loss:.4f} {val_text}")
            if not self.quiet:
                shown = (f"val {val_loss:.4f} nats ({val_loss / LN2:.3f} bits/char)" if val_loss is not None
                         else "no validation split")
                self.say(f"epoch {st['epoch']}/{cfg.epochs}: loss {loss:.4f}, {shown}, {epoch_seconds:.1f}s"
                         + ("  *best" if best else ""))
            if self.report is not None:
                self.report.epoch_end(self.model, st["history"])
            if stop.reason is not None:  # the signal came during the epoch's last step
                self.log_interrupted()
                return "interrupted"
            if st["wall_seconds"] >= budget:
                self.log(f"finished epochs={st['epoch']} best_val_loss={st['best_val_loss']:.4f} (time budget)")
                return "time budget reached"
        self.log(f"finished epochs={st['epoch']} best_val_loss={st['best_val_loss']:.4f}")
        return "finished"


def _new_run_path(source: str) -> Path:
    stem = Path(source.rstrip("/")).name.split(":")[-1].split(".")[0] or "run"
    return DEFAULT_RUNS / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def _recorded_source(source: str) -> str:
    """A local path is recorded absolute, so that the run finds its text again from any working directory."""
    path = Path(source).expanduser()
    return str(path.resolve()) if source != "-" and path.exists() else source


def _check_saved_config(run: RunDir, saved: dict) -> None:
    """config.yaml edited by hand so that it no longer describes the checkpoints' model or data: say so plainly
    (the checkpoints would otherwise all fail to load, which reads like damage)."""
    newest = run.checkpoints()[:1]
    trained = newest[0][1].get("config") if newest else None
    if not isinstance(trained, dict):
        return
    diff = [k for k in SHAPE_KEYS + DATA_KEYS if k in trained and saved.get(k) != trained[k]]
    if diff:
        what = ", ".join(f"{k} {saved.get(k)!r} (trained with {trained[k]!r})" for k in diff)
        raise UserError(f"config.yaml of run '{run.path}' no longer matches its checkpoints: {what}; put the trained "
                        "values back in config.yaml, or start a new run with -o NEW_DIR")


def _open_run(source: str, config_file, overrides: dict, out_dir) -> tuple[RunDir, Config, Prepared, bool]:
    """Decide between a new run and continuing one; returns (run, config, data, resumed)."""
    target = source if is_run_dir(source) else out_dir if out_dir and is_run_dir(out_dir) else None
    if target is not None:
        run = RunDir(target)
        info = run.info()
        saved = run.read_config()
        _check_saved_config(run, saved)
        cfg = make_config(config_file, overrides, base=saved)
        changed = [k for k in SHAPE_KEYS + DATA_KEYS if getattr(cfg, k) != saved.get(k)]
        if changed:
            raise UserError(f"cannot change {', '.join(changed)} of an existing run ('{run.path}'); "
                            "start a new run with -o NEW_DIR")
        if source != str(target) and not is_run_dir(source):
            data = prepared_for_training(source, val_fraction=cfg.val_fraction, lowercase=cfg.lowercase)
            if data.meta.get("sha256") != info["data_sha256"]:
                raise UserError(f"'{run.path}' was trained on other data; choose a new run directory with -o")
        else:
            data = run_data(run.path, info, val_fraction=cfg.val_fraction, lowercase=cfg.lowercase)
        return run, cfg, data, True
    cfg = make_config(config_file, overrides)
    data = prepared_for_training(source, val_fraction=cfg.val_fraction, lowercase=cfg.lowercase)
    check_trainable(cfg, data)
    path = Path(out_dir) if out_dir else _new_run_path(source)
    if path.exists() and (not path.is_dir() or any(path.iterdir())) and not RunDir(path).aborted_creation():
        raise UserError(f"'{path}' exists and is not an lstmgen run directory; choose another with -o")
    if cfg.seed == 0:
        cfg.seed = random.SystemRandom().randrange(1, 2**31 - 1)
    run = RunDir(path)
    run.create({"source": _recorded_source(source), "prepared": str(data.path.resolve()), "data_sha256": data.meta.get("sha256"),
                "vocab_size": data.vocab.size},
               files={"config.yaml": dump_yaml(cfg),
                      "vocab.json": atomic.json_text(data.vocab.to_json())})
    return run, cfg, data, False


def train(source: str, *, config_file: str | None = None, overrides: dict | None = None,
          out_dir: str | None = None, quiet: bool = False, say: Callable[[str], None] = _say_default) -> TrainResult:
    """Train a new run on `source` (raw text, SOURCE spec or prepared dir), or continue the run at `source`."""
    run, cfg, data, resumed, job = _open_run_in_job(source, config_file, overrides or {}, out_dir)
    if not job.is_chief:
        quiet = True  # process 0 reports; the others only train
    removed = run.clean_temps() if job.is_chief else []
    if removed:
        say(f"removed {len(removed)} unfinished temporary file(s) left by an interrupted save")
    if resumed and job.is_chief:
        atomic.write_text(run.path / "config.yaml", dump_yaml(cfg))
        try:
            intact = Vocab.load(run.path / "vocab.json").chars == data.vocab.chars
        except UserError:
            intact = False
        if not intact:  # missing or damaged: the run's data has the same vocabulary
            data.vocab.save(run.path / "vocab.json")
    newest = run.checkpoints()[:1] if resumed else []
    if newest and newest[0][1].get("step") == 0 and newest[0][1].get("epoch", 0) >= cfg.epochs:
        done = newest[0][1]
        say(f"run '{run.path}' has already trained {done['epoch']} epochs; pass --epochs N (N > {done['epoch']}) "
            "to train further")
        return TrainResult(run.path, "already finished", done["epoch"], done["global_step"], done.get("best_val_loss"))
    plan = distribute.setup(cfg, job)
    with plan.scope():
        return _train_in_scope(run, cfg, data, resumed, say, quiet, plan)


def _open_run_in_job(source: str, config_file, overrides: dict, out_dir):
    """_open_run on the chief first (it creates a new run), then on the other processes of a multi-host job."""
    job = distribute.join_job(make_config(config_file, overrides))
    if job.processes == 1:
        return (*_open_run(source, config_file, overrides, out_dir), job)
    if not out_dir and not is_run_dir(source):
        raise UserError("a multi-process job needs -o RUN_DIR, the same path on every process")
    opened, failed = None, None
    if job.is_chief:
        try:
            opened = _open_run(source, config_file, overrides, out_dir)
        except UserError as e:
            failed = e
    if not job.all_ok(failed is None):
        raise failed or UserError("process 0 could not open the run (see its error); fix that and restart all")
    if not job.is_chief:
        opened = _open_run(source, config_file, overrides, out_dir)
        if not opened[3]:
            raise UserError(f"process {job.process_id} cannot see the run directory process 0 created; put -o on a "
                            "filesystem every host shares")
    return (*opened, job)


def _train_in_scope(run: RunDir, cfg: Config, data: Prepared, resumed: bool, say, quiet: bool,
                    plan: distribute.Plan) -> TrainResult:
    trainer = Trainer(run, cfg, data, say, quiet, plan)
    if not quiet:
        say(data.summary())
        if plan.replicas > 1:
            say(plan.describe())
    trainer.build()
    if resumed:
        trainer.restore()
        shape = model_shape(trainer.model)
        if shape["vocab_size"] != data.vocab.size:
            raise UserError(f"run '{run.path}' does not match its vocabulary; it is damaged, start a new run")
    st = trainer.state
    if st["epoch"] >= cfg.epochs:
        say(f"run '{run.path}' has already trained {st['epoch']} epochs; pass --epochs N (N > {st['epoch']}) "
            "to train further")
        return TrainResult(run.path, "already finished", st["epoch"], st["global_step"], st["best_val_loss"])
    if cfg.max_minutes and st["wall_seconds"] >= cfg.max_minutes * 60:
        say(f"run '{run.path}' has used its time budget ({cfg.max_minutes:g} min); pass --max-minutes M "
            "(more) or 0 (no limit) to train further")
        return TrainResult(run.path, "time budget reached", st["epoch"], st["global_step"], st["best_val_loss"])
    if not quiet:
        params = trainer.model.count_params()
        say(f"run {run.path}: {params:,} parameters, {trainer.steps} steps/epoch × {cfg.epochs} epochs, "
            f"batch {cfg.batch_size} × {cfg.seq_len}, {backend.describe()}, precision {trainer.policy}, "
            f"XLA {trainer.jit}, {trainer.threads}, steps_per_execution {cfg.steps_per_execution}, {trainer.kernel}")
    trainer.report = EpochReport(run, cfg, data, say, quiet) if plan.is_chief else None
    with StopFlag() as stop, run.lock() if plan.is_chief else contextlib.nullcontext():
        try:
            status = trainer.fit(stop)
        finally:
            if trainer.report is not None:
                trainer.report.close()
    if plan.replicas > 1:
        check = plan.check_replicas(trainer.model)
        trainer.log(check)
        say(check)
    if status == "interrupted":
        say(f"stopped by {stop.reason or 'request'} at epoch {st['epoch'] + 1}, step {st['step']}; checkpoint saved. "
            f"Resume with: lstmgen train {run.path}")
    return TrainResult(run.path, status, st["epoch"], st["global_step"], st["best_val_loss"])
