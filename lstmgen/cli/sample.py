"""`lstmgen generate` and `lstmgen eval`: sample a trained model, measure its loss and novelty."""

from __future__ import annotations

import sys

import click

from lstmgen.cli import ui
from lstmgen.cli.app import EXIT_CODES, cli, output_options, print_json


@cli.command(epilog=EXIT_CODES)
@click.argument("target", required=False, type=click.Path())
@click.option(
    "--which",
    type=click.Choice(["best", "latest"]),
    default="best",
    show_default=True,
    help="which model of a run directory to sample from",
)
@click.option(
    "-t",
    "--temperature",
    type=float,
    default=0.8,
    show_default=True,
    help="softmax temperature: lower is safer, higher more surprising",
)
@click.option("--top-k", type=int, default=0, show_default=True, help="sample among the k likeliest (0: off)")
@click.option("--top-p", type=float, default=1.0, show_default=True, help="nucleus sampling mass (1: off)")
@click.option("--greedy", is_flag=True, help="always take the likeliest character")
@click.option("-n", "--length", type=int, default=500, show_default=True, help="characters to generate")
@click.option("-p", "--prime", default="", help="text to start from (any Unicode)")
@click.option("--num-samples", type=int, default=1, show_default=True, help="samples, generated as one batch")
@click.option("--seed", type=int, default=None, help="random seed for reproducible samples")
@click.option(
    "--engine",
    type=click.Choice(["auto", "numpy", "keras"]),
    default="auto",
    show_default=True,
    help="numpy: NumPy step on the CPU; keras: the Keras backend's compiled step on its device; auto: "
    "keras on a GPU, numpy on a CPU (faster there)",
)
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
    texts = run_generate(
        target,
        which=which,
        prime=prime,
        length=length,
        num_samples=num_samples,
        sampling=sampling,
        seed=seed,
        out=None if as_json else sys.stdout,
        warn=ui.say,
        info=info,
        engine=engine,
    )
    if as_json:
        print_json(
            {
                **info,
                "length": length,
                "seed": seed,
                "sampling": {"temperature": temperature, "top_k": top_k, "top_p": top_p, "greedy": greedy},
                "samples": texts,
            }
        )


@cli.command("eval", epilog=EXIT_CODES)
@click.argument("target", type=click.Path())
@click.argument("texts", nargs=-1, type=click.Path())
@click.option(
    "--which",
    type=click.Choice(["best", "latest"]),
    default="best",
    show_default=True,
    help="which model of the run to evaluate",
)
@click.option(
    "--samples",
    "samples_file",
    type=click.Path(),
    help="novelty of these samples ('-' for stdin): `generate` output, its --json, or plain text",
)
@click.option(
    "--generate",
    "n_generate",
    type=int,
    default=0,
    show_default=True,
    metavar="N",
    help="generate N samples and report their novelty",
)
@click.option("-n", "--length", type=int, default=500, show_default=True, help="with --generate: characters per sample")
@click.option("-t", "--temperature", type=float, default=0.8, show_default=True, help="with --generate: temperature")
@click.option("--seed", type=int, default=None, help="with --generate: random seed")
@click.option("--ngram", type=int, default=20, show_default=True, help="n-gram length of the novelty share")
@click.option("--loss/--no-loss", default=True, help="compute the loss (off: only the novelty report)")
@click.option(
    "--streams",
    type=int,
    default=None,
    metavar="N",
    help="the stateful loss: the state carried through N contiguous pieces of the text scored side by side "
    "(1: the whole text in one pass; 0: off)  [default: the run's stateful_val_streams, 16]",
)
@click.option(
    "--window",
    type=int,
    default=None,
    metavar="N",
    help="the windowed loss in windows of N characters, to compare runs trained on different lengths  "
    "[default: the run's seq_len]",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@output_options
def eval_(
    target, texts, which, samples_file, n_generate, length, temperature, seed, ngram, loss, streams, window, as_json
):
    """Loss on text, novelty of samples, Reber validity.

    TARGET is a run directory (or a .keras model in one). The loss (nats, bits/char, perplexity) is taken
    on the TEXT files ('-' for stdin; characters outside the vocabulary are dropped and reported), or by
    default on the run's own validation split, twice: in windows of the run's seq_len (or --window), each
    from a zero LSTM state as in training validation, and with the state carried through the text (see
    --streams).
    With --generate N or --samples FILE it also reports the longest substring copied from the training
    text and the share of 20-grams found there (with the same measures of held-out validation text for
    reference), and for a Reber-trained model the share of valid strings.

    \b
    Examples:
      lstmgen eval runs/book
      lstmgen eval runs/book chapter12.txt --json
      lstmgen eval runs/book --generate 8 --temperature 1.0
      lstmgen eval runs/seq200 --window 100     # comparable with a run trained on seq_len 100
    """
    from lstmgen.evaluation.evaluate import evaluate, format_eval

    result = evaluate(
        target,
        list(texts),
        which=which,
        samples_file=samples_file,
        generate=n_generate,
        length=length,
        temperature=temperature,
        seed=seed,
        ngram=ngram,
        loss=loss,
        streams=streams,
        window=window,
    )
    if as_json:
        print_json(result)
    else:
        click.echo(format_eval(result))
