"""The `lstmgen` command line: a thin click layer over the Python API. Heavy imports happen inside commands."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import traceback
from dataclasses import fields

import click

from lstmgen import __version__
from lstmgen.cli import ui
from lstmgen.config import CHOICES, HELP, Config, _pytype
from lstmgen.errors import LstmgenError

EXIT_CODES = """Exit codes: 0 success, 1 a problem with input, files or options (one line on stderr says
what and how to fix it), 2 command-line usage error, 3 training interrupted (a checkpoint was saved;
run the same train command again to resume), 4 internal error (LSTMGEN_DEBUG=1 shows the traceback),
130 aborted by Ctrl-C outside training."""
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def output_options(func):
    """-q/--quiet, -v/--verbose and --progress/--no-progress for a command: the Output it runs under."""

    @click.option("--progress/--no-progress", default=None,
                  help="force progress bars on stderr on or off [default: on when stderr is a terminal]")
    @click.option("-v", "--verbose", is_flag=True, help="extra detail on stderr (choices made, timings)")
    @click.option("-q", "--quiet", is_flag=True, help="print only results and errors: no notes, no progress bars")
    @functools.wraps(func)
    def wrapper(*args, quiet, verbose, progress, **kwargs):
        if quiet and verbose:
            raise click.UsageError("-q/--quiet and -v/--verbose contradict each other; give one")
        with ui.scoped(quiet=quiet, verbose=verbose, progress=progress):
            return func(*args, **kwargs)

    return wrapper


def print_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def config_options(func):
    """Add a `--key-name` option for every Config field (None = not given, so config files still apply)."""
    for f in reversed(fields(Config)):
        name = "--" + f.name.replace("_", "-")
        t = _pytype(f.type)
        help_text = HELP.get(f.name, "") + f" [default: {f.default}]"
        if t is bool:
            option = click.option(f"{name}/--no-{f.name.replace('_', '-')}", f.name, default=None, help=help_text)
        elif f.name == "init_from":  # `--from` reads best; `--init-from` matches the config key
            option = click.option("--from", "--init-from", "init_from", default=None, metavar="MODEL", help=help_text)
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
    """A line on stderr; callers decide what -q suppresses (train's result line and resume hint always show)."""
    click.echo(message, err=True)


def one_line(message: str) -> str:
    """An error is one line on stderr even when a file name or value in it holds a line break."""
    return " ".join(message.splitlines())


class Lstmgen(click.Group):
    """A click group whose errors are one line on stderr, never a traceback."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        try:
            super().main(args, prog_name or "lstmgen", standalone_mode=False, **extra)
        except LstmgenError as e:
            click.echo(f"lstmgen: error: {one_line(e.format_message())}", err=True)
            sys.exit(e.exit_code)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "lstmgen"
            click.echo(f"lstmgen: error: {one_line(e.format_message())} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.exceptions.Abort:
            click.echo("lstmgen: aborted", err=True)
            sys.exit(130)
        except click.ClickException as e:
            click.echo(f"lstmgen: error: {one_line(e.format_message())}", err=True)
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


@click.group(cls=Lstmgen, context_settings=CONTEXT, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="lstmgen")
def cli():
    """Character-level LSTM text generation on Keras 3.

    \b
      lstmgen prepare corpus.txt            # text → id stream + vocabulary
      lstmgen train corpus.txt              # train (prepares raw text implicitly)
      lstmgen generate --temperature 0.7    # sample from the latest run
      lstmgen eval runs/corpus-…            # validation loss; --generate 8 for novelty
      lstmgen runs                          # list runs; lstmgen info RUN for one
      lstmgen estimate --log train.log      # when will training finish?

    \b
    Every command takes -q (quiet), -v (verbose), --json where it prints results, and -h.
    Shell completion (bash; zsh_source, fish_source likewise):
      eval "$(_LSTMGEN_COMPLETE=bash_source lstmgen)"
    """


@cli.command(epilog=EXIT_CODES)
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False),
              help="output directory [default: prepared/NAME]")
@click.option("--encoding", help="force the input encoding (default: detected: UTF-8, BOM, cp1252, …)")
@click.option("--lowercase", is_flag=True, help="lowercase the text")
@click.option("--val-fraction", type=float, default=0.1, show_default=True,
              help="last fraction of the text held out for validation")
@click.option("--force", is_flag=True,
              help="replace what -o DIR holds: another corpus's preparation, or ids.bin, vocab.json or meta.json "
                   "that lstmgen did not write")
@output_options
def prepare(sources, out_dir, encoding, lowercase, val_fraction, force):
    """Turn text into ids, a vocabulary and metadata (no TensorFlow).

    SOURCES are text files, directories, '-' (stdin, up to 1 GB), http(s) URLs or builtin:NAME (builtin:reber,
    builtin:pydocs); devices, named pipes and sockets are refused (skipped inside a directory). The ids are a
    memory-mappable stream; the last --val-fraction is the validation split.

    \b
    Examples:
      lstmgen prepare book.txt -o prepared/book
      cat notes.txt | lstmgen prepare - -o prepared/notes
    """
    from lstmgen.data.prepared import prepare as run_prepare
    from lstmgen.data.decode import check_encoding

    check_encoding(encoding)  # before any input is read
    t0 = time.monotonic()
    prepared = run_prepare(list(sources), out_dir, encoding=encoding, lowercase=lowercase, val_fraction=val_fraction,
                           force=force)
    ui.detail(f"prepared in {time.monotonic() - t0:.2f}s (sha256 {prepared.meta['sha256'][:12]}…)")
    if not ui.quiet():
        click.echo(prepared.summary())


@cli.command(epilog=EXIT_CODES)
@click.argument("source", type=click.Path())
@click.option("-c", "--config", "config_file", help="YAML config file or preset name (smoke, cpu, demo, gpu)")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False),
              help="run directory: a new or empty folder, or a run to continue [default: runs/NAME-TIMESTAMP]")
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
    quiet = ui.quiet()
    t0 = time.monotonic()
    result = run_train(source, config_file=config_file, overrides=overrides, out_dir=out_dir, quiet=quiet, say=say)
    ui.detail(f"train took {time.monotonic() - t0:.1f}s in all; config {result.run_dir / 'config.yaml'}")
    best = "n/a" if result.best_val_loss is None else f"{result.best_val_loss:.4f} nats"
    say(f"{result.status}: {result.epochs_done} epochs, {result.global_step} steps, best loss {best}; "
        f"run directory {result.run_dir}")
    if result.status == "interrupted":
        sys.exit(3)


@cli.command(epilog=EXIT_CODES)
@click.argument("target", required=False, type=click.Path())
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
@click.option("--engine", type=click.Choice(["auto", "numpy", "keras"]), default="auto", show_default=True,
              help="numpy: NumPy step on the CPU; keras: the Keras backend's compiled step on its device; auto: "
                   "keras on a GPU, numpy on a CPU (faster there)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object (model, prime, settings, samples)")
@output_options
def generate(target, which, temperature, top_k, top_p, greedy, length, prime, num_samples, seed, engine, as_json):
    """Sample text from a trained run.

    TARGET is a run directory, a .keras model inside one or a built-in model such as builtin:english (default:
    the latest run under runs/). One sample streams to stdout as it is made.

    \b
    Examples:
      lstmgen generate runs/book --prime "Once upon" --temperature 0.7 --length 300
      lstmgen generate builtin:english --prime "The " --length 300
      lstmgen generate runs/book --num-samples 4 --seed 1 --json
    """
    from lstmgen.generation.generate import generate as run_generate
    from lstmgen.generation.sample import Sampling

    if greedy and (top_k or top_p < 1.0):
        raise click.UsageError("--greedy always takes the likeliest character; drop --top-k/--top-p or --greedy")
    sampling = Sampling(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy)
    sampling.check()
    info: dict = {}
    texts = run_generate(target, which=which, prime=prime, length=length, num_samples=num_samples, sampling=sampling,
                         seed=seed, out=None if as_json else sys.stdout, warn=ui.say, info=info, engine=engine)
    if as_json:
        print_json({**info, "length": length, "seed": seed,
                    "sampling": {"temperature": temperature, "top_k": top_k, "top_p": top_p, "greedy": greedy},
                    "samples": texts})


@cli.command("eval", epilog=EXIT_CODES)
@click.argument("target", type=click.Path())
@click.argument("texts", nargs=-1, type=click.Path())
@click.option("--which", type=click.Choice(["best", "latest"]), default="best", show_default=True,
              help="which model of the run to evaluate")
@click.option("--samples", "samples_file", type=click.Path(),
              help="novelty of these samples ('-' for stdin): `generate` output, its --json, or plain text")
@click.option("--generate", "n_generate", type=int, default=0, show_default=True, metavar="N",
              help="generate N samples and report their novelty")
@click.option("-n", "--length", type=int, default=500, show_default=True, help="with --generate: characters per sample")
@click.option("-t", "--temperature", type=float, default=0.8, show_default=True, help="with --generate: temperature")
@click.option("--seed", type=int, default=None, help="with --generate: random seed")
@click.option("--ngram", type=int, default=20, show_default=True, help="n-gram length of the novelty share")
@click.option("--loss/--no-loss", default=True, help="compute the loss (off: only the novelty report)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@output_options
def eval_(target, texts, which, samples_file, n_generate, length, temperature, seed, ngram, loss, as_json):
    """Loss on text, novelty of samples, Reber validity.

    TARGET is a run directory (or a .keras model in one). The loss (nats, bits/char, perplexity) is taken
    on the TEXT files ('-' for stdin; characters outside the vocabulary are dropped and reported), or by
    default on the run's own validation split. With --generate N or --samples FILE it also reports the
    longest substring copied from the training text and the share of 20-grams found there (with the
    same measures of held-out validation text for reference), and for a Reber-trained model the share of
    valid strings.

    \b
    Examples:
      lstmgen eval runs/book
      lstmgen eval runs/book chapter12.txt --json
      lstmgen eval runs/book --generate 8 --temperature 1.0
    """
    from lstmgen.evaluation.evaluate import evaluate, format_eval

    result = evaluate(target, list(texts), which=which, samples_file=samples_file, generate=n_generate, length=length,
                      temperature=temperature, seed=seed, ngram=ngram, loss=loss)
    if as_json:
        print_json(result)
    else:
        click.echo(format_eval(result))


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
    from lstmgen.runs.runinfo import format_runs, list_runs

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


@cli.command(epilog=EXIT_CODES)
@click.argument("source", required=False, type=click.Path())
@click.option("--log", "log_file", type=click.Path(dir_okay=False),
              help="a training log to read ('-' for stdin): Keras 1-3, tqdm or lstmgen's train.log")
@click.option("--started", help="with --log: when training started (e.g. 10:40 or 2024-07-30T10:40)")
@click.option("--now", "now_", help="with --log: the time to estimate at (default: the log's last write or now)")
@click.option("--follow", is_flag=True, help="with --log: keep re-estimating as the log grows")
@click.option("--run", "run_", type=int, help="with --log: which run of the file to estimate (1 = first; default: "
                                               "the last, or the last with timing)")
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


def main(argv=None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="lstmgen")


from lstmgen.cli.serve import serve  # noqa: E402  (its own module: it needs the names above)

cli.add_command(serve)
