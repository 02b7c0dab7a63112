"""Messages that misled users (issue 17): each now says what is true and how to fix it, or recovers and says so."""

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import TINY_TEXT, TINY_TRAIN
from contract import fails, tree_hashes
from lstmgen.cli.main import cli
from lstmgen.eta import follow as etafollow


def ok(args, **kw):
    result = CliRunner().invoke(cli, args, **kw)
    assert result.exit_code == 0, (result.exit_code, result.output)
    return result


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A finished two-epoch tiny run (validation on) and one trained with --val-fraction 0."""
    root = tmp_path_factory.mktemp("msg")
    (root / "corpus.txt").write_text(TINY_TEXT, encoding="utf-8")
    ok(
        [
            "train",
            str(root / "corpus.txt"),
            "-o",
            str(root / "run"),
            "--epochs",
            "2",
            "--steps-per-epoch",
            "3",
            "--keep-checkpoints",
            "5",
            *TINY_TRAIN,
            "-q",
        ]
    )
    ok(
        [
            "train",
            str(root / "corpus.txt"),
            "-o",
            str(root / "noval"),
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
            "--val-fraction",
            "0",
            *TINY_TRAIN,
            "-q",
        ]
    )
    return root


@pytest.fixture
def run(base, tmp_path):
    shutil.copytree(base / "run", tmp_path / "run")
    return tmp_path / "run"


def ckpts(run):
    return sorted(p.name for p in (run / "checkpoints").glob("*.keras"))


# --- missing latest.keras / best.keras ---------------------------------------------------------------------
def test_deleted_links_use_the_checkpoints(run):
    (run / "latest.keras").unlink()
    (run / "best.keras").unlink()
    before = tree_hashes(run)
    result = ok(["generate", str(run), "-n", "12", "--seed", "1", "--json"])
    out = json.loads(result.stdout)
    assert out["model"].endswith(".keras") and "checkpoints" in out["model"]
    assert "best.keras is missing" in result.stderr and "ckpt-" in result.stderr
    latest = ok(["generate", str(run), "--which", "latest", "-n", "5", "--json"])
    assert json.loads(latest.stdout)["which"] == "latest" and ckpts(run)[-1] in latest.stderr
    assert tree_hashes(run) == before  # sampling never writes into the run


def test_which_best_without_a_best_model_says_latest(run):
    (run / "best.keras").unlink()
    best_epoch_ckpt = [
        p
        for p in (run / "checkpoints").glob("*.json")
        if json.loads(p.read_text())["epoch"] == json.loads(p.read_text())["best_epoch"]
    ]
    for p in best_epoch_ckpt:  # the checkpoint best.keras linked to is gone as well
        p.unlink()
        p.with_suffix(".keras").unlink()
    result = ok(["generate", str(run), "--which", "best", "-n", "5", "--json"])
    assert json.loads(result.stdout)["which"] == "latest"
    assert "best.keras is missing" in result.stderr and "latest" in result.stderr
    ev = ok(["eval", str(run), "--json"])
    assert json.loads(ev.stdout)["which"] == "latest"


def test_no_model_at_all_names_what_is_missing(run):
    for p in [run / "latest.keras", run / "best.keras", *(run / "checkpoints").iterdir()]:
        p.unlink()
    fails(["generate", str(run)], r"no saved model \(no best.keras, latest.keras or checkpoint")


# --- config.yaml edited so it no longer matches the checkpoints --------------------------------------------
def test_changed_units_in_config_yaml_is_named(run):
    cfg = run / "config.yaml"
    cfg.write_text(cfg.read_text().replace("units: 16", "units: 24"))
    err = fails(
        ["train", str(run), "--epochs", "3", "-q"], r"config.yaml .* no longer matches its checkpoints", untouched=[run]
    )
    assert "units 24 (trained with 16)" in err and "unreadable" not in err


# --- eval of a run without a validation split ---------------------------------------------------------------
def test_eval_without_validation_split(base):
    err = fails(["eval", str(base / "noval")], "no validation split", untouched=[base / "noval"])
    assert "TEXT" in err and "text to evaluate" not in err


# --- vocab.json gone ----------------------------------------------------------------------------------------
def test_missing_vocab_recovered_from_the_runs_data(run):
    (run / "vocab.json").unlink()
    result = ok(["generate", str(run), "-n", "10", "--seed", "1"])
    assert "using the vocabulary of its prepared data" in result.stderr


def test_missing_vocab_and_data_points_at_the_run(run, tmp_path, monkeypatch):
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "prepared": str(tmp_path / "gone")}))
    (run / "vocab.json").unlink()
    err = fails(["generate", str(run)], "vocab.json", untouched=[run])
    assert "lstmgen prepare" not in err and f"lstmgen train {run}" in err


def test_resume_rewrites_a_damaged_vocab(run):
    (run / "vocab.json").write_text("{broken")
    ok(["train", str(run), "--epochs", "3", "-q"])
    assert json.loads((run / "vocab.json").read_text())["format"]


# --- the data of a run is gone ------------------------------------------------------------------------------
def test_resume_with_source_and_cache_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMGEN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "c.txt").write_text(TINY_TEXT)
    ok(
        [
            "train",
            str(tmp_path / "c.txt"),
            "-o",
            str(tmp_path / "r"),
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
            *TINY_TRAIN,
            "-q",
        ]
    )
    (tmp_path / "c.txt").unlink()
    shutil.rmtree(tmp_path / "cache")
    err = fails(
        ["train", str(tmp_path / "r"), "--epochs", "2", "-q"],
        "training data of run .* is gone",
        untouched=[tmp_path / "r"],
    )
    assert "pass a text file" not in err and f"-o {tmp_path / 'r'}" in err
    # the fix it names works: the same text again, into the run
    (tmp_path / "again.txt").write_text(TINY_TEXT)
    ok(["train", str(tmp_path / "again.txt"), "-o", str(tmp_path / "r"), "--epochs", "2", "-q"])


def test_relative_source_found_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMGEN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "c.txt").write_text(TINY_TEXT)
    monkeypatch.chdir(tmp_path / "work")
    ok(["train", "c.txt", "-o", str(tmp_path / "r"), "--epochs", "1", "--steps-per-epoch", "2", *TINY_TRAIN, "-q"])
    shutil.rmtree(tmp_path / "cache")
    monkeypatch.chdir(tmp_path)
    ok(["train", str(tmp_path / "r"), "--epochs", "2", "-q"])


# --- estimate --log ------------------------------------------------------------------------------------------
def _cr_log(path: Path, steps: int) -> None:
    """A Keras verbose=1 log of one long epoch: its progress updates are separated by \\r only, no \\n."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("Epoch 1/5\n")
        for s in range(1, steps):
            f.write(f"\r{s:6d}/{steps} ━━━━━━━━━━━━━━━━━━━━ {(steps - s) * 6 // 100}s 60ms/step - loss: 1.2345")


def test_big_log_of_carriage_returns_is_not_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(etafollow, "MAX_READ", 1 << 20)  # the 64 MB tail rule, at 1 MB
    log = tmp_path / "fit.log"
    _cr_log(log, steps=60_000)
    assert log.stat().st_size > 3 << 20
    est = json.loads(ok(["estimate", "--log", str(log), "--json"]).stdout)
    assert est["steps_per_epoch"] == 60_000 and est["step"] == 59_999 and est["remaining_s"] > 0


def _v2_log(path: Path) -> None:
    path.write_text(
        "Epoch 1/10\n100/100 - 6s - 60ms/step - loss: 2.0\nEpoch 2/10\n100/100 - 6s - 60ms/step - "
        "loss: 1.9\nEpoch 3/10\n"
    )


def test_stale_log_is_called_stale(tmp_path):
    log = tmp_path / "fit.log"
    _v2_log(log)
    old = log.stat().st_mtime - 3 * 86400
    os.utime(log, (old, old))
    result = ok(["estimate", "--log", str(log)])
    assert "stale" in result.stdout and "Run finishes at" not in result.stdout
    assert json.loads(ok(["estimate", "--log", str(log), "--json"]).stdout)["stale"] is True


def test_fresh_log_is_not_stale(tmp_path):
    log = tmp_path / "fit.log"
    _v2_log(log)
    result = ok(["estimate", "--log", str(log), "--json"])
    assert json.loads(result.stdout)["stale"] is False
