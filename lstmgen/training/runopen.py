"""Which run a `train` command trains: a new one, one to continue, or a branch of one (RUN -o NEW); opened and
locked before anything is written, with its data found and its settings checked. No TensorFlow here."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from lstmgen.config import (
    DATA_KEYS,
    FINETUNE_DEFAULTS,
    INIT_KEYS,
    SHAPE_KEYS,
    Config,
    dump_yaml,
    make_config,
    read_yaml,
)
from lstmgen.data.prepare import prepared_for_training
from lstmgen.data.prepared import Prepared
from lstmgen.data.vocab import run_vocab_for
from lstmgen.errors import LstmgenError, RunError
from lstmgen.runs.rundata import run_data, with_vocab
from lstmgen.runs.rundir import DEFAULT_RUNS, RunDir, refuse_foreign_run_json
from lstmgen.runs.runfiles import is_run_dir
from lstmgen.runs.runinfo import parameter_count
from lstmgen.runtime import backend
from lstmgen.runtime.hardware import memory_bytes
from lstmgen.training.batches import steps_in_epoch
from lstmgen.training.branch import same_path, start_branch
from lstmgen.training.job import join_job
from lstmgen.training.remap import remap
from lstmgen.util import atomic


def check_fits(cfg: Config, vocab_size: int) -> None:
    """Refuse settings whose weights (with gradients and Adam's two moments) or activations (logits + gates, forward
    and backward; the validation batch forward only) cannot fit in memory."""
    total = memory_bytes()
    if not total:
        return
    weights = 16 * parameter_count(cfg, vocab_size)
    if weights > 0.8 * total:
        raise RunError(
            f"the model has {parameter_count(cfg, vocab_size):,} parameters: with gradients and optimizer "
            f"state about {weights / 2**30:.1f} GiB, more than this machine's {total / 2**30:.1f} GiB; "
            "lower --units, --layers or --embedding-dim"
        )
    per_position = 4 * (3 * vocab_size + cfg.layers * 12 * cfg.units + cfg.embedding_dim)
    for name, batch, share in (("batch_size", cfg.batch_size, 1.0), ("val_batch_size", cfg.val_batch_size, 0.5)):
        need = batch * cfg.seq_len * per_position * share
        if weights + need > 0.8 * total:
            raise RunError(
                f"{name} × seq_len = {batch} × {cfg.seq_len} needs about {need / 2**30:.1f} GiB of "
                f"activations, more than this machine's {total / 2**30:.1f} GiB; lower "
                f"--{name.replace('_', '-')} or --seq-len"
            )


def check_trainable(cfg: Config, data: Prepared) -> int:
    """Refuse settings that cannot work before anything is written; returns the steps per epoch."""
    check_fits(cfg, data.vocab.size)
    if steps_in_epoch(len(data.train), cfg.seq_len, cfg.batch_size) == 0:
        raise RunError(
            f"the training split has {len(data.train):,} characters, fewer than one batch of "
            f"{cfg.batch_size} × {cfg.seq_len + 1}; lower --batch-size or --seq-len, or use more text"
        )
    return cfg.steps_per_epoch or steps_in_epoch(len(data.train), cfg.seq_len, cfg.batch_size)


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
    trained = newest[0][1].config if newest else None
    if not trained:
        return
    diff = [k for k in SHAPE_KEYS + DATA_KEYS if k in trained and saved.get(k) != trained[k]]
    if diff:
        what = ", ".join(f"{k} {saved.get(k)!r} (trained with {trained[k]!r})" for k in diff)
        raise RunError(
            f"config.yaml of run '{run.path}' no longer matches its checkpoints: {what}; put the trained "
            "values back in config.yaml, or start a new run with -o NEW_DIR"
        )


def recorded_spec(spec: str) -> str:
    """A base as config.yaml keeps it: builtin:NAME as is, a path made absolute (a resume may run elsewhere)."""
    return spec if not spec or spec.startswith("builtin:") else str(Path(spec).expanduser().resolve())


def _refuse_from_on_existing(source: str, run: RunDir, given: str | None, saved: dict, source_run: bool) -> None:
    """`--from` starts new runs only; repeating a fine-tuning run's own command (TEXT --from M -o RUN) resumes it."""
    if not given or (not source_run and recorded_spec(given) == saved.get("init_from")):
        return
    if source_run:
        raise RunError(
            f"'{source}' is a run, and --from only starts new runs; to continue it, drop --from; to "
            f"fine-tune from it: lstmgen train NEW_TEXT --from {source} -o NEW_DIR"
        )
    raise RunError(
        f"run '{run.path}' already exists and was not started from '{given}'; --from only starts new "
        "runs: choose a new directory with -o"
    )


def _new_config(config_file, overrides: dict):
    """A new run's config, and its base model when it fine-tunes (`init_from`): the base fixes the shape, and the
    fine-tuning defaults sit under the config file and the options."""
    explicit = {**(read_yaml(config_file) if config_file else {}), **overrides}
    spec = explicit.get("init_from")
    if not spec:
        cfg = make_config(config_file, overrides)
        if cfg.freeze_layers or cfg.init_vocab != "corpus":
            raise RunError("--freeze-layers and --init-vocab only apply with --from MODEL (fine-tuning)")
        return cfg, None
    from lstmgen.runs.basemodel import resolve_base

    base = resolve_base(str(spec))
    shape = base.config_shape()
    clash = [k for k in SHAPE_KEYS if explicit.get(k) is not None and explicit[k] != shape[k]]
    if clash:
        given = ", ".join(f"--{k.replace('_', '-')} {explicit[k]}" for k in clash)
        raise RunError(
            f"the base model '{spec}' has {shape['layers']} layers × {shape['units']} units, embedding "
            f"{shape['embedding_dim']}; it cannot be fine-tuned as {given}: drop those settings (a "
            "fine-tuned model keeps its base's shape)"
        )
    cfg = make_config(
        config_file, {**overrides, "init_from": recorded_spec(base.spec)}, base={**FINETUNE_DEFAULTS, **shape}
    )
    if cfg.freeze_layers > cfg.layers:
        raise RunError(f"--freeze-layers {cfg.freeze_layers} is more than the base's {cfg.layers} LSTM layers")
    return cfg, base


def open_run(
    source: str, config_file, overrides: dict, out_dir, chief: bool = True
) -> tuple[RunDir, Config, Prepared, bool]:
    """Decide between a new run, continuing one and branching one (RUN -o NEW); returns (run, config, data,
    resumed). The chief takes the run's lock before anything is written to it; the caller releases it."""
    refuse_foreign_run_json(source)  # a damaged run is not a folder of text to train on
    source_run, out_run = is_run_dir(source), bool(out_dir) and is_run_dir(out_dir)
    branch = source_run and bool(out_dir) and not same_path(source, out_dir)
    if branch and not chief:  # process 0 made the branch: continue it
        branch, source_run = False, False
    if branch:
        RunDir(out_dir).check_new()  # refuse before any work
    target = source if source_run else out_dir if out_run else None
    if target is not None:
        run = RunDir(target)
        info = run.info()
        saved = run.read_config()
        saved.setdefault("ema", 0.0)  # a run made before ema existed keeps no average
        _check_saved_config(run, saved)
        cfg = make_config(config_file, overrides, base=saved)
        given = overrides.get("init_from") or (read_yaml(config_file).get("init_from") if config_file else None)
        _refuse_from_on_existing(source, run, given, saved, source_run)
        cfg.init_from = recorded_spec(cfg.init_from)
        changed = [k for k in SHAPE_KEYS + DATA_KEYS + INIT_KEYS if getattr(cfg, k) != saved.get(k, getattr(Config, k))]
        if changed:
            raise RunError(
                f"cannot change {', '.join(changed)} of an existing run ('{run.path}'); start a new run with -o NEW_DIR"
            )
        if bool(cfg.ema) != bool(saved["ema"]):  # the optimizer's variables differ: its state would not load
            raise RunError(
                f"cannot turn ema {'on' if cfg.ema else 'off'} for an existing run ('{run.path}'), whose checkpoints "
                f"{'keep no' if cfg.ema else 'keep an'} average of the weights; start a new run with -o NEW_DIR"
            )
        text = source if source != str(target) and not is_run_dir(source) else None
        data = run_data(run.path, info, val_fraction=cfg.val_fraction, lowercase=cfg.lowercase, text=text)
        if branch:  # run is only read; the new one is made, and locked, by start_branch
            run = RunDir(out_dir)
            start_branch(RunDir(target), run, info, dump_yaml(cfg), lock=chief)
        elif chief:
            run.acquire_lock()  # before train() writes anything to the run
        return run, cfg, data, True
    path = Path(out_dir) if out_dir else _new_run_path(source)
    RunDir(path).check_new()  # before preparing anything
    cfg, base = _new_config(config_file, overrides)
    data = prepared_for_training(source, val_fraction=cfg.val_fraction, lowercase=cfg.lowercase)
    info = {
        "source": _recorded_source(source),
        "prepared": str(data.path.resolve()),
        "data_sha256": data.meta.get("sha256"),
    }
    if base is not None:
        data = with_vocab(data, run_vocab_for(base.vocab.chars, data.vocab, cfg.init_vocab))
        counts = np.bincount(np.asarray(data.train), minlength=data.vocab.size)
        remapped = remap(base.weights, base.vocab, data.vocab, counts)
        info["base"] = {
            **base.record(),
            "spec": cfg.init_from,
            "vocab": cfg.init_vocab,
            "chars": "".join(base.vocab.chars),
            **remapped.record(),
        }
    check_trainable(cfg, data)
    if cfg.seed == 0:
        cfg.seed = random.SystemRandom().randrange(1, 2**31 - 1)
    run = RunDir(path)
    run.claim(lock=chief)
    try:
        run.create(
            {**info, "vocab_size": data.vocab.size},
            files={"config.yaml": dump_yaml(cfg), "vocab.json": atomic.json_text(data.vocab.to_json())},
        )
    except BaseException:
        run.release_lock()
        raise
    return run, cfg, data, False


def open_run_in_job(source: str, config_file, overrides: dict, out_dir):
    """open_run on the chief first (it creates a new run), then on the other processes of a multi-host job."""
    asked = make_config(config_file, overrides)
    backend.check_steps_per_execution(asked.steps_per_execution)  # before a new run is made
    job = join_job(asked)
    if job.processes == 1:
        return (*open_run(source, config_file, overrides, out_dir), job)
    if not out_dir and not is_run_dir(source):
        raise RunError("a multi-process job needs -o RUN_DIR, the same path on every process")
    # Swapping the averaged weights in and out assigns replicated variables, a collective that every process would
    # have to enter at the same moment (mid-epoch checkpoints are timed per process): multi-process jobs keep none.
    existing = source if is_run_dir(source) else out_dir if is_run_dir(out_dir) else None
    if existing is not None and RunDir(existing).read_config().get("ema"):
        raise RunError(
            f"run '{existing}' keeps a moving average of its weights (ema), which multi-process jobs do not "
            "support; continue it in one process"
        )
    overrides = {**overrides, "ema": 0.0}
    opened: tuple[RunDir, Config, Prepared, bool] | None = None
    failed: LstmgenError | None = None
    if job.is_chief:
        try:
            opened = open_run(source, config_file, overrides, out_dir)
        except LstmgenError as e:
            failed = e
    if not job.all_ok(failed is None):
        raise failed or RunError("process 0 could not open the run (see its error); fix that and restart all")
    if not job.is_chief:
        opened = open_run(source, config_file, overrides, out_dir, chief=False)
        if not opened[3]:
            raise RunError(
                f"process {job.process_id} cannot see the run directory process 0 created; put -o on a "
                "filesystem every host shares"
            )
    assert opened is not None  # the chief opened it or all_ok raised; the others opened it just above
    return (*opened, job)
