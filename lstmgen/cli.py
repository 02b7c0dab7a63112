"""The `lstmgen` command line: a thin click layer over the Python API. Heavy imports happen inside commands."""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import fields

import click

from lstmgen import __version__
from lstmgen.config import CHOICES, HELP, Config, _pytype
from lstmgen.errors import UserError

EXIT_CODES = """Exit codes: 0 success, 1 a problem with input, files or options (one line on stderr says
what and how to fix it), 2 command-line usage error, 3 training interrupted (a checkpoint was saved;
run the same train command again to resume), 4 internal error."""


def config_options(func):
    """Add a `--key-name` option for every Config field (None = not given, so config files still apply)."""
    for f in reversed(fields(Config)):
        name = "--" + f.name.replace("_", "-")
        t = _pytype(f.type)
        help_text = HELP.get(f.name, "") + f" [default: {f.default}]"
        if t is bool:
            option = click.option(f"{name}/--no-{f.name.replace('_', '-')}", f.name, default=None, help=help_text)
        elif f.name in CHOICES:
            option = click.option(name, f.name, type=click.Choice(CHOICES[f.name]), default=None, help=help_text)
        else:
            option = click.option(name, f.name, type={int: click.INT, float: click.FLOAT}.get(t, click.STRING),
                                  default=None, help=help_text, metavar=t.__name__.upper())
        func = option(func)
    return func


def pop_overrides(kwargs: dict) -> dict:
    values = {f.name: kwargs.pop(f.name, None) for f in fields(Config)}
    return {k: v for k, v in values.items() if v is not None}


def say(message: str) -> None:
    click.echo(message, err=True)


class Lstmgen(click.Group):
    """A click group whose errors are one line on stderr, never a traceback."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        try:
            super().main(args, prog_name or "lstmgen", standalone_mode=False, **extra)
        except UserError as e:
            click.echo(f"lstmgen: error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "lstmgen"
            click.echo(f"lstmgen: error: {e.format_message()} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("lstmgen: aborted", err=True)
            sys.exit(130)
        except click.ClickException as e:
            click.echo(f"lstmgen: error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("lstmgen: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:  # e.g. `lstmgen generate | head`
            sys.stderr.close()
            sys.exit(0)
        except Exception as e:  # a bug: keep the one-line contract, show the traceback on request
            if os.environ.get("LSTMGEN_DEBUG"):
                traceback.print_exc()
            click.echo(f"lstmgen: internal error: {type(e).__name__}: {e} (set LSTMGEN_DEBUG=1 for a traceback)",
                       err=True)
            sys.exit(4)
        sys.exit(0)


@click.group(cls=Lstmgen, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
             epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="lstmgen")
def cli():
    """Character-level LSTM text generation on Keras 3.

    \b
      lstmgen prepare corpus.txt            # text → id stream + vocabulary
      lstmgen train corpus.txt              # train (prepares raw text implicitly)
      lstmgen generate --temperature 0.7    # sample from the latest run
      lstmgen estimate --log train.log      # when will training finish?
    """


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", "out_dir", help="output directory [default: prepared/NAME]")
@click.option("--encoding", help="force the input encoding (default: detected: UTF-8, BOM, cp1252, …)")
@click.option("--lowercase", is_flag=True, help="lowercase the text")
@click.option("--val-fraction", type=float, default=0.1, show_default=True,
              help="last fraction of the text held out for validation")
@click.option("-q", "--quiet", is_flag=True, help="print nothing but errors")
def prepare(sources, out_dir, encoding, lowercase, val_fraction, quiet):
    """Turn text into a memory-mappable id stream, vocabulary and metadata.

    SOURCES are text files, directories, '-' (stdin), http(s) URLs or builtin:NAME (builtin:reber,
    builtin:pydocs). Example: lstmgen prepare book.txt -o prepared/book
    """
    from lstmgen.corpus import prepare as run_prepare

    prepared = run_prepare(list(sources), out_dir, encoding=encoding, lowercase=lowercase, val_fraction=val_fraction)
    if not quiet:
        click.echo(prepared.summary())


@cli.command()
@click.argument("source")
@click.option("-c", "--config", "config_file", help="YAML config file or preset name (smoke, cpu, gpu)")
@click.option("-o", "--output", "out_dir", help="run directory [default: runs/NAME-TIMESTAMP]")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar or per-epoch lines")
@config_options
def train(source, config_file, out_dir, quiet, **kwargs):
    """Train a model on SOURCE, or continue the run directory SOURCE.

    SOURCE is a prepared directory, a run directory (continue it), or anything `prepare` accepts
    (raw text is prepared implicitly and cached). Every config key is also an option.
    Example: lstmgen train builtin:pydocs --config cpu --epochs 5
    """
    from lstmgen.train import train as run_train

    overrides = pop_overrides(kwargs)
    result = run_train(source, config_file=config_file, overrides=overrides, out_dir=out_dir, quiet=quiet, say=say)
    best = "n/a" if result.best_val_loss is None else f"{result.best_val_loss:.4f} nats"
    say(f"{result.status}: {result.epochs_done} epochs, {result.global_step} steps, best loss {best}; "
        f"run directory {result.run_dir}")
    if result.status == "interrupted":
        sys.exit(3)


@cli.command()
@click.argument("target", required=False)
@click.option("--which", type=click.Choice(["best", "latest"]), default="best", show_default=True,
              help="which model of a run directory to sample from")
@click.option("-t", "--temperature", type=float, default=0.8, show_default=True,
              help="softmax temperature: lower is safer, higher more surprising")
@click.option("--top-k", type=int, default=0, show_default=True, help="sample among the k likeliest (0: off)")
@click.option("--top-p", type=float, default=1.0, show_default=True, help="nucleus sampling mass (1: off)")
@click.option("--greedy", is_flag=True, help="always take the likeliest character")
@click.option("-n", "--length", type=int, default=500, show_default=True, help="characters to generate")
@click.option("-p", "--prime", default="", help="text to start from (any Unicode)")
@click.option("--num-samples", type=int, default=1, show_default=True, help="samples, generated as one batch")
@click.option("--seed", type=int, default=None, help="random seed for reproducible samples")
def generate(target, which, temperature, top_k, top_p, greedy, length, prime, num_samples, seed):
    """Sample text from a trained run (default: the latest run under runs/).

    TARGET is a run directory or a .keras model inside one.
    Example: lstmgen generate runs/book --prime "Once upon" --temperature 0.7 --length 300
    """
    from lstmgen.generate import generate as run_generate
    from lstmgen.sample import Sampling

    if greedy and (top_k or top_p < 1.0):
        raise click.UsageError("--greedy always takes the likeliest character; drop --top-k/--top-p or --greedy")
    sampling = Sampling(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)
    sampling.check()
    run_generate(target, which=which, prime=prime, length=length, num_samples=num_samples, sampling=sampling,
                 seed=seed, out=sys.stdout, warn=say)


@cli.command()
@click.argument("source", required=False)
@click.option("--log", "log_file", help="a training log to read ('-' for stdin): Keras 1-3, tqdm or lstmgen's train.log")
@click.option("--started", help="with --log: when training started (e.g. 10:40 or 2024-07-30T10:40)")
@click.option("--now", "now_", help="with --log: the time to estimate at (default: the log's last write or now)")
@click.option("--follow", is_flag=True, help="with --log: keep re-estimating as the log grows")
@click.option("--what-if/--no-what-if", default=True, help="without --log: also time other batch/sequence sizes")
@click.option("-c", "--config", "config_file", help="without --log: YAML config file or preset name")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@config_options
def estimate(source, log_file, started, now_, follow, what_if, config_file, as_json, **kwargs):
    """Estimate how long training takes: from a log (--log FILE), or before training (SOURCE).

    \b
    With --log it reads a running or finished Keras/tqdm/lstmgen log and predicts when the current epoch
    and the whole run end (--epochs N overrides the log's total).
    With SOURCE (a corpus, prepared or run directory) it describes the hardware, times real training
    steps of the configured model and predicts time per epoch and per run.
    Examples: lstmgen estimate --log train.log --started 10:40
              lstmgen estimate corpus.txt --config cpu
    """
    overrides = pop_overrides(kwargs)
    if log_file is not None:
        if source is not None:
            raise click.UsageError("give either SOURCE or --log, not both")
        unused = sorted(set(overrides) - {"epochs"}) + (["--config"] if config_file else [])
        if unused:
            raise click.UsageError(f"{', '.join(unused)} only apply without --log")
        from lstmgen.eta import estimate_log_command

        sys.exit(estimate_log_command(log_file, started, now_, overrides.get("epochs"), follow, as_json))
    if source is None:
        raise click.UsageError("give SOURCE (a corpus to train on) or --log FILE (a training log)")
    if started or now_ or follow:
        raise click.UsageError("--started, --now and --follow only apply with --log")
    import json

    from lstmgen.forecast import forecast, format_forecast, to_json

    result = forecast(source, config_file, overrides, what_if=what_if, say=lambda m: None if as_json else say(m))
    click.echo(json.dumps(to_json(result), indent=2) if as_json else format_forecast(result))


def main(argv=None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="lstmgen")
