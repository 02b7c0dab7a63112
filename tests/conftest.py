import os
import tempfile

# Keep every test's caches (prepared corpora, downloads, builtin texts) out of the user's home. Set at import
# time so module- and session-scoped fixtures see it too.
os.environ["LSTMGEN_CACHE"] = tempfile.mkdtemp(prefix="lstmgen-test-cache-")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

TINY_TRAIN = [
    "--units",
    "16",
    "--layers",
    "1",
    "--embedding-dim",
    "8",
    "--seq-len",
    "16",
    "--batch-size",
    "8",
    "--seed",
    "1",
    "--mixed-precision",
    "off",
    "--checkpoint-minutes",
    "0",
    "--sample-length",
    "30",
]
# TINY_TRAIN as keyword arguments of lstmgen.train, with short epochs
TINY_OPTIONS = dict(
    units=16,
    layers=1,
    embedding_dim=8,
    seq_len=16,
    batch_size=8,
    seed=1,
    mixed_precision="off",
    checkpoint_minutes=0,
    sample_length=30,
    steps_per_epoch=4,
)
TINY_TEXT = (
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs!\n"
    "How vexingly quick daft zebras jump; sphinx of black quartz, judge my vow.\n"
) * 120


def reber_lines(output: str) -> list[str]:
    """The strings `lstmgen generate --prime "\n"` printed, without each sample's prime line and its possibly
    cut-off last string: what the Reber checks score."""
    lines = []
    for block in output.split("--- sample ")[1:]:
        lines += block.split("\n", 1)[1].split("\n")[1:-2]
    return [s for s in lines if s]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A two-epoch run of a tiny model on a pangram corpus (a few seconds), shared read-only by tests."""
    from click.testing import CliRunner

    from lstmgen.cli.main import cli

    base = tmp_path_factory.mktemp("tiny")
    (base / "corpus.txt").write_text(TINY_TEXT, encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(base / "corpus.txt"),
            "-o",
            str(base / "run"),
            "--epochs",
            "2",
            "--steps-per-epoch",
            "4",
            *TINY_TRAIN,
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    return base / "run"
