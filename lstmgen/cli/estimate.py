"""`lstmgen estimate`: when a training log's run ends (--log), or how long training SOURCE will take."""

from __future__ import annotations

import sys

import click

from lstmgen.cli import ui
from lstmgen.cli.app import EXIT_CODES, cli, config_options, output_options, pop_overrides, print_json


@cli.command(epilog=EXIT_CODES)
@click.argument("source", required=False, type=click.Path())
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False),
    help="a training log to read ('-' for stdin): Keras 1-3, tqdm or lstmgen's train.log",
)
@click.option("--started", help="with --log: when training started (e.g. 10:40 or 2024-07-30T10:40)")
@click.option("--now", "now_", help="with --log: the time to estimate at (default: the log's last write or now)")
@click.option("--follow", is_flag=True, help="with --log: keep re-estimating as the log grows")
@click.option(
    "--run",
    "run_",
    type=int,
    help="with --log: which run of the file to estimate (1 = first; default: the last, or the last with timing)",
)
@click.option("--what-if/--no-what-if", default=True, help="without --log: also time other batch/sequence sizes")
@click.option("-c", "--config", "config_file", help="without --log: YAML config file or preset name")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@config_options
@output_options
def estimate(source, log_file, started, now_, follow, run_, what_if, config_file, as_json, **kwargs):
    """Predict training time, from a log or before training.

    \b
    With --log it reads a running or finished Keras/tqdm/lstmgen log and predicts when the current epoch
    and the whole run end (--epochs N overrides the log's total).
    With SOURCE (a corpus, prepared or run directory) it describes the hardware, times real training
    steps of the configured model and predicts time per epoch and per run.

    \b
    Examples:
      lstmgen estimate --log train.log --started 10:40
      lstmgen estimate corpus.txt --config cpu
    """
    overrides = pop_overrides(kwargs)
    if log_file is not None:
        if source is not None:
            raise click.UsageError("give either SOURCE or --log, not both")
        unused = sorted(set(overrides) - {"epochs"}) + (["--config"] if config_file else [])
        if unused:
            raise click.UsageError(f"{', '.join(unused)} only apply without --log")
        from lstmgen.eta.command import estimate_log_command
        from lstmgen.util.limits import EPOCHS, check_range

        if "epochs" in overrides:
            check_range("--epochs", overrides["epochs"], *EPOCHS)
        sys.exit(estimate_log_command(log_file, started, now_, overrides.get("epochs"), follow, as_json, run=run_))
    if source is None:
        raise click.UsageError("give SOURCE (a corpus to train on) or --log FILE (a training log)")
    if started or now_ or follow or run_ is not None:
        raise click.UsageError("--started, --now, --follow and --run only apply with --log")
    from lstmgen.runtime.backendpick import pick_for_training

    picked = pick_for_training()
    if picked and not as_json:
        ui.say(picked)
    from lstmgen.training.forecast import forecast, format_forecast, to_json

    result = forecast(source, config_file, overrides, what_if=what_if, say=lambda m: None if as_json else ui.say(m))
    if as_json:
        print_json(to_json(result))
    else:
        click.echo(format_forecast(result))
