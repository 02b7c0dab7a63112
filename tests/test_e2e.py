"""End to end through the CLI, in-process: prepare builtin:reber → train (smoke) → generate, then check learning."""

import json

import pytest
from click.testing import CliRunner

from conftest import reber_lines
from lstmgen.cli.main import cli
from lstmgen.data import reber


def run(args, expect=0):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


@pytest.fixture(scope="module")
def reber_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    run(["prepare", "builtin:reber", "-o", str(base / "prep"), "-q"])
    run(["train", str(base / "prep"), "--config", "smoke", "-o", str(base / "run"), "--seed", "7", "-q"])
    return base


def test_run_directory_has_everything(reber_run):
    run_dir = reber_run / "run"
    for name in ("config.yaml", "vocab.json", "run.json", "latest.keras", "best.keras", "metrics.csv", "train.log"):
        assert (run_dir / name).is_file(), name
    rows = (run_dir / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 6  # header + one row per epoch of the smoke config
    assert "val_bpc" in rows[0]
    log = (run_dir / "train.log").read_text()
    assert "epoch 6/6 end" in log and "finished epochs=6" in log


def test_learned_the_embedded_reber_grammar(reber_run):
    result = run(
        [
            "generate",
            str(reber_run / "run"),
            "--num-samples",
            "32",
            "--length",
            "400",
            "--temperature",
            "1.0",
            "--prime",
            "\n",
            "--seed",
            "1",
        ]
    )
    lines = reber_lines(result.output)
    assert len(lines) > 200
    assert reber.valid_fraction(lines) >= 0.95


def test_continue_keeps_epoch_count_and_optimizer(reber_run):
    run_dir = reber_run / "run"
    before = json.loads(sorted((run_dir / "checkpoints").glob("ckpt-*.json"))[-1].read_text())
    run(["train", str(run_dir), "--epochs", "7", "-q"])
    after = json.loads(sorted((run_dir / "checkpoints").glob("ckpt-*.json"))[-1].read_text())
    assert after["epoch"] == 7 and before["epoch"] == 6
    assert after["global_step"] == before["global_step"] + 150
    assert len(after["history"]) == 7


def test_shape_change_on_continue_is_refused(reber_run):
    result = CliRunner().invoke(cli, ["train", str(reber_run / "run"), "--units", "128"])
    assert result.exit_code != 0


def test_generate_streams_prime_and_length(reber_run):
    result = run(["generate", str(reber_run / "run"), "--prime", "BT", "--length", "50", "--seed", "3"])
    text = result.output.rstrip("\n")
    assert text.startswith("BT") and len(text) == 52


def test_generate_is_seeded(reber_run):
    a = run(["generate", str(reber_run / "run"), "--length", "80", "--seed", "5"]).output
    b = run(["generate", str(reber_run / "run"), "--length", "80", "--seed", "5"]).output
    assert a == b


def test_eval_reports_reber_validity_and_reproduces_val_loss(reber_run):
    result = run(
        [
            "eval",
            str(reber_run / "run"),
            "--generate",
            "16",
            "--length",
            "400",
            "--temperature",
            "1.0",
            "--seed",
            "1",
            "--json",
            "-q",
        ]
    )
    d = json.loads(result.stdout)
    assert d["reber"]["strings"] > 100 and d["reber"]["valid_fraction"] >= 0.95
    best = json.loads(run(["runs", str(reber_run / "run"), "--json"]).stdout)[0]["best_val_loss"]
    assert abs(d["loss"]["nats"] - best) < 0.01


def test_generate_engines_agree_and_auto_is_reported(reber_run):
    args = ["generate", str(reber_run / "run"), "--length", "120", "--num-samples", "3", "--seed", "4", "--json"]
    by_engine = {e: json.loads(run([*args, "--engine", e]).stdout) for e in ("numpy", "keras", "auto")}
    assert by_engine["numpy"]["samples"] == by_engine["keras"]["samples"] == by_engine["auto"]["samples"]
    assert by_engine["keras"]["engine"] == "keras" and by_engine["auto"]["engine"] in ("numpy", "keras")
