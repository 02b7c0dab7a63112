"""`lstmgen prepare` and `lstmgen train`: text → a prepared corpus → a trained run."""

from __future__ import annotations

import sys
import time

import click

from lstmgen.cli import ui
from lstmgen.cli.app import EXIT_CODES, cli, config_options, output_options, pop_overrides, say


@cli.command(epilog=EXIT_CODES)
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o", "--output", "out_dir", type=click.Path(file_okay=False), help="output directory [default: prepared/NAME]"
)
@click.option("--encoding", help="force the input encoding (default: detected: UTF-8, BOM, cp1252, …)")
@click.option("--lowercase", is_flag=True, help="lowercase the text")
@click.option(
    "--val-fraction",
    type=float,
    default=0.1,
    show_default=True,
    help="last fraction of the text held out for validation",
)
@click.option(
    "--force",
    is_flag=True,
    help="replace what -o DIR holds: another corpus's preparation, or ids.bin, vocab.json or meta.json "
    "that lstmgen did not write",
)
@output_options
def prepare(sources, out_dir, encoding, lowercase, val_fraction, force):
    """Turn text into ids, a vocabulary and metadata (no TensorFlow).

    SOURCES are text files, directories, '-' (stdin, up to 1 GB), http(s) URLs or builtin:NAME (builtin:reber,
    builtin:pydocs), or a catalog name (tinyshakespeare, enwik8, text8: downloaded once, checked against
    its sha256, cached); devices, named pipes and sockets are refused (skipped inside a directory). The ids are a
    memory-mappable stream; the last --val-fraction is the validation split.

    \b
    Examples:
      lstmgen prepare book.txt -o prepared/book
      lstmgen prepare tinyshakespeare
      cat notes.txt | lstmgen prepare - -o prepared/notes
    """
    from lstmgen.data.decode import check_encoding
    from lstmgen.data.prepare import prepare as run_prepare

    check_encoding(encoding)  # before any input is read
    t0 = time.monotonic()
    prepared = run_prepare(
        list(sources), out_dir, encoding=encoding, lowercase=lowercase, val_fraction=val_fraction, force=force
    )
    ui.detail(f"prepared in {time.monotonic() - t0:.2f}s (sha256 {prepared.meta['sha256'][:12]}…)")
    if not ui.quiet():
        click.echo(prepared.summary())


@cli.command(epilog=EXIT_CODES)
@click.argument("source", type=click.Path())
@click.option("-c", "--config", "config_file", help="YAML config file or preset name (smoke, cpu, demo, gpu)")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False),
    help="run directory: a new or empty folder, or a run to continue [default: runs/NAME-TIMESTAMP]",
)
@config_options
@output_options
def train(source, config_file, out_dir, **kwargs):
    """Train a model on SOURCE, or continue the run SOURCE.

    SOURCE is a prepared directory, a run directory (continue it; with -o NEW, continue a copy of it in
    NEW and leave it unchanged), or anything `prepare` accepts (raw text is prepared implicitly and
    cached). Every config key is also an option. After each epoch the run directory gets a checkpoint,
    metrics.csv, loss.png, TensorBoard logs and a short sample. One process at a time trains a run.

    \b
    Examples:
      lstmgen train builtin:pydocs --config demo -o runs/demo
      lstmgen train runs/demo --epochs 6                  # continue to 6 epochs
      lstmgen train runs/demo -o runs/demo-b --epochs 9   # continue a copy
      lstmgen train letters.txt --from builtin:english    # fine-tune the built-in English model
    """
    from lstmgen.runtime.backendpick import pick_for_training

    picked = pick_for_training()  # before Keras is imported
    from lstmgen.training.train import train as run_train

    if picked and not ui.quiet():
        say(picked)

    overrides = pop_overrides(kwargs)
    t0 = time.monotonic()
    result = run_train(source, config_file=config_file, overrides=overrides, out_dir=out_dir, on_note=say)
    ui.detail(f"train took {time.monotonic() - t0:.1f}s in all; config {result.run_dir / 'config.yaml'}")
    if result.hint:
        say(result.hint)
    best = "n/a" if result.best_val_loss is None else f"{result.best_val_loss:.4f} nats"
    say(
        f"{result.status}: {result.epochs_done} epochs, {result.global_step} steps, best loss {best}; "
        f"run directory {result.run_dir}"
    )
    if result.status == "interrupted":
        sys.exit(3)
