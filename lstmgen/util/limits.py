"""The ranges of the command-line options that are not Config keys (those are config.RANGES), the most that is read
from a stream or input file, and the range check both use. No TensorFlow, no NumPy."""

from __future__ import annotations

from lstmgen.errors import ConfigError

SEED = (0, 2**32 - 1)  # NumPy's and the backends' seeding take 32-bit seeds (config.RANGES["seed"] too)
TEMPERATURE = (1e-3, 1e3)  # sampling temperatures (generate, eval --generate, the per-epoch samples)
TOP_K = (0, 65_536)  # the largest vocabulary (vocab.MAX_SIZE); 0 turns it off
LENGTH = (0, 10_000_000)  # generate --length (eval --length: from 1)
NUM_SAMPLES = (1, 4096)  # generate --num-samples, eval --generate (from 0 there)
GENERATED_CHARS = 50_000_000  # num_samples × length: the ids are kept until the samples are printed
NGRAM = (1, 1000)  # eval --ngram
EPOCHS = (1, 1_000_000)  # estimate --log --epochs (config.RANGES["epochs"] too)

MB = 1 << 20
CONFIG_FILE_BYTES = 1 * MB  # a config file is a few dozen lines
SAMPLES_BYTES = 64 * MB  # eval --samples
STDIN_BYTES = 1024 * MB  # a corpus or eval TEXT from '-'; a file of any size can be given by its path
LOG_STDIN_BYTES = 64 * MB  # estimate --log - (a log file given by its path is read from its last 64 MB)


def range_text(lo, hi, ends: str = "[]") -> str:
    """'an integer from 1 to 65,536' or 'a number in [0, 1)'."""
    if isinstance(lo, int) and isinstance(hi, int):
        return f"an integer from {lo:,} to {hi:,}"
    return f"a number in {ends[0]}{lo:g}, {hi:g}{ends[1]}"


def check_range(name: str, value, lo, hi, ends: str = "[]", fix: str = ""):
    """`value` if lo ≤ value ≤ hi (an end excluded where `ends` has '(' or ')'); else a ConfigError naming the range.

    NaN fails every comparison, so it is refused too."""
    low_ok = value > lo if ends[0] == "(" else value >= lo
    high_ok = value < hi if ends[1] == ")" else value <= hi
    if not (low_ok and high_ok):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        raise ConfigError(f"{name} must be {range_text(lo, hi, ends)}, got {shown}{'; ' + fix if fix else ''}")
    return value


def size_text(n: int) -> str:
    """'64 MB', '1.9 MB', '1 GB', '1,000 bytes'."""
    for unit, name in ((1024 * MB, "GB"), (MB, "MB")):
        if n >= unit:
            return f"{n // unit:,} {name}" if n % unit == 0 else f"{n / unit:,.1f} {name}"
    return f"{n:,} bytes"
