"""`lstmgen runs` and `lstmgen info`: what run directories hold (their files only, no TensorFlow)."""

from __future__ import annotations

import click

from lstmgen.cli.app import EXIT_CODES, cli, output_options, print_json


@cli.command(epilog=EXIT_CODES)
@click.argument("directory", required=False, default="runs", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@output_options
def runs(directory, as_json):
    """List runs: state, best validation loss, size.

    DIRECTORY (default runs/) is searched two levels deep; a run directory itself lists just that run.
    STATE is finished, running, interrupted (resume with `lstmgen train RUN`), time budget or empty.

    \b
    Examples:
      lstmgen runs
      lstmgen runs experiments/ --json
    """
    from lstmgen.runs.runlist import format_runs, list_runs

    rows = list_runs(directory)
    if as_json:
        print_json(rows)
    else:
        click.echo(format_runs(rows, directory))


@cli.command(epilog=EXIT_CODES)
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@output_options
def info(run_dir, as_json):
    """Show a run: config, parameters, vocabulary, checkpoints.

    Reads the run's files only (no TensorFlow): quick even while the run trains.

    \b
    Examples:
      lstmgen info runs/book
      lstmgen info runs/book --json
    """
    from lstmgen.runs.runinfo import format_info, run_info

    result = run_info(run_dir)
    if as_json:
        print_json(result)
    else:
        click.echo(format_info(result))
