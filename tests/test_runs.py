"""`lstmgen runs` and `info`, --json everywhere, -q/-v, every command's help, exit codes and shell completion."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lstmgen.cli.main import cli
from lstmgen.config import make_config
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.runinfo import parameter_count, printable_vocab

COMMANDS = sorted(cli.commands)


def run(args, expect=0, env=None):
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    assert result.exit_code == expect, result.output
    return result


@pytest.mark.parametrize(
    "shape",
    [
        dict(embedding_dim=8, layers=1, units=16),
        dict(embedding_dim=5, layers=3, units=7),
        dict(embedding_dim=64, layers=2, units=256),
    ],
)
def test_parameter_count_equals_keras(shape):
    from lstmgen.training.model import build_model

    cfg = make_config(None, shape)
    for vocab_size in (3, 97):
        assert parameter_count(cfg, vocab_size) == build_model(cfg, vocab_size).count_params()


def test_printable_vocab():
    assert printable_vocab(["\n", " ", "a", "\t", "\x07", "é"]) == "\\n\u2420a\\t\\u0007é"


# --- runs -----------------------------------------------------------------------------------------------------
def _copy(run_dir, dest):
    shutil.copytree(run_dir, dest)
    return dest


def _states(root):
    return {os.path.basename(r["path"]): r for r in json.loads(run(["runs", root, "--json"]).stdout)}


def test_runs_lists_states_losses_and_sizes(tiny_run, tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    finished = _copy(tiny_run, root / "finished")
    interrupted = _copy(tiny_run, root / "interrupted")
    config_file = interrupted / "config.yaml"
    config_file.write_text(config_file.read_text().replace("epochs: 2", "epochs: 5"))
    for p in (interrupted / "checkpoints").glob("*.json"):  # the checkpoints' own config says 5 epochs too
        state = json.loads(p.read_text())
        state["config"]["epochs"] = 5
        p.write_text(json.dumps(state))
    running = _copy(tiny_run, root / "group" / "running")  # two levels deep
    stale = _copy(tiny_run, root / "stale")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (stale / ".lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}))
    empty = root / "empty"
    empty.mkdir()
    shutil.copy(tiny_run / "run.json", empty / "run.json")
    (root / "not-a-run").mkdir()

    with RunDir(running).lock():  # held (flock) as a trainer holds it; the stale run's pid no longer exists
        states = _states(root)
    assert {k: v["state"] for k, v in states.items()} == {
        "finished": "finished",
        "interrupted": "interrupted",
        "running": "running",
        "stale": "finished",
        "empty": "empty",
    }
    row = states["finished"]
    assert row["epoch"] == 2 and row["epochs"] == 2 and row["best_val_loss"] > 0
    assert row["best_val_bpc"] == pytest.approx(row["best_val_loss"] / 0.6931471805599453)
    assert row["size_bytes"] == sum(p.stat().st_size for p in finished.rglob("*") if p.is_file())  # copies
    original = json.loads(run(["runs", tiny_run, "--json"]).stdout)[0]["size_bytes"]
    assert original < sum(p.stat().st_size for p in tiny_run.rglob("*") if p.is_file())  # hard links counted once
    text = run(["runs", root]).stdout
    assert text.splitlines()[0].split()[:3] == ["RUN", "STATE", "EPOCH"]
    assert "finished" in text and "interrupted" in text and "kB" in text and "ago" in text
    assert json.loads(run(["runs", finished, "--json"]).stdout)[0]["state"] == "finished"  # a run dir itself


def test_runs_without_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(["runs"], expect=1)
    assert "train one with" in result.stderr
    (tmp_path / "runs").mkdir()
    assert "no runs under" in run(["runs"]).stdout
    assert json.loads(run(["runs", "--json"]).stdout) == []


# --- info -----------------------------------------------------------------------------------------------------
def test_info_shows_config_parameters_vocabulary_checkpoints(tiny_run):
    text = run(["info", tiny_run]).stdout
    assert "finished" in text and "parameters" in text and "\u2420" in text and "ckpt-000000008.keras" in text
    assert "(latest" in text and "units" in text
    d = json.loads(run(["info", tiny_run, "--json"]).stdout)
    assert d["config"]["units"] == 16 and d["parameters"] == parameter_count(d["config"], d["vocab"]["size"])
    assert [c["global_step"] for c in d["checkpoints"]] == [8, 4]
    assert d["checkpoints"][0]["val_loss"] is not None and "latest" in d["checkpoints"][0]["is"]
    assert d["files"] == {
        "metrics.csv": True,
        "train.log": True,
        "loss.png": True,
        "samples.txt": True,
        "tensorboard": True,
    }


def test_info_errors(tmp_path):
    assert "does not exist" in run(["info", tmp_path / "nope"], expect=1).stderr
    assert "not an lstmgen run" in run(["info", tmp_path], expect=1).stderr


# --- --json, -q, -v -----------------------------------------------------------------------------------------------
def test_generate_json(tiny_run):
    d = json.loads(
        run(
            ["generate", tiny_run, "--num-samples", "2", "--length", "12", "--prime", "The", "--seed", "4", "--json"]
        ).stdout
    )
    assert d["prime"] == "The" and d["sampling"]["temperature"] == 0.8 and d["model"].endswith("best.keras")
    assert len(d["samples"]) == 2 and all(s.startswith("The") and len(s) == 15 for s in d["samples"])
    one = json.loads(run(["generate", tiny_run, "--length", "12", "--prime", "The", "--seed", "4", "--json"]).stdout)
    assert len(one["samples"]) == 1


def test_estimate_log_json(tiny_run):
    d = json.loads(run(["estimate", "--log", tiny_run / "train.log", "--json"]).stdout)
    assert isinstance(d, dict) and d


def test_verbose_and_quiet(tiny_run):
    verbose = run(["generate", tiny_run, "--length", "5", "--seed", "1", "-v"])
    assert "loaded" in verbose.stderr and "chars/s" in verbose.stderr
    quiet = run(["generate", tiny_run, "--length", "5", "--seed", "1", "-q", "--prime", "é"])
    assert quiet.stderr == "" and quiet.stdout
    both = run(["generate", tiny_run, "-q", "-v"], expect=2)
    assert "contradict" in both.stderr


def test_progress_bars_only_on_request_when_not_a_terminal(tiny_run):
    args = ["eval", tiny_run, "--generate", "2", "--length", "30", "--seed", "1"]
    assert "generating" not in run(args).stderr  # CliRunner's stderr is not a terminal
    forced = run([*args, "--progress"]).stderr
    assert "generating" in forced and "evaluating" in forced and "novelty" in forced
    assert run([*args, "--progress", "-q"]).stderr == ""  # -q wins


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_summary_example_output_options_and_exit_codes(command):
    text = run([command, "--help"]).stdout
    summary = text.split("\n\n")[1].strip()
    assert summary and len(summary) < 70 and "\n" not in summary
    assert "Example" in text and f"lstmgen {command}" in text.split("Example", 1)[1]
    for option in ("-q, --quiet", "-v, --verbose", "--progress"):
        assert option in text, option
    assert "Exit codes" in text and "3 training" in text


def test_group_help_lists_every_command():
    text = run(["--help"]).stdout
    for command in COMMANDS:
        assert f"  {command} " in text
    assert "_LSTMGEN_COMPLETE=bash_source" in text


@pytest.mark.parametrize(
    "shell, marker",
    [("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files --command lstmgen")],
)
def test_shell_completion_script(shell, marker):
    result = CliRunner().invoke(cli, [], env={"_LSTMGEN_COMPLETE": f"{shell}_source"}, prog_name="lstmgen")
    assert result.exit_code == 0 and marker in result.stdout


def test_completion_of_commands():
    env = {"_LSTMGEN_COMPLETE": "bash_complete", "COMP_WORDS": "lstmgen ru", "COMP_CWORD": "1"}
    result = CliRunner().invoke(cli, [], env=env, prog_name="lstmgen")
    assert "plain,runs" in result.stdout


def test_light_commands_do_not_import_tensorflow(tiny_run):
    code = (
        "import sys; from lstmgen.cli.main import cli\n"
        "for args in (['--help'], ['runs', sys.argv[1]], ['info', sys.argv[1]], ['prepare', '--help']):\n"
        "    try:\n        cli.main(args, standalone_mode=False)\n    except SystemExit:\n        pass\n"
        "bad = [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code, str(tiny_run)], check=True, capture_output=True)
