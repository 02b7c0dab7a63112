"""`lstmgen estimate SOURCE`: hardware report and a timed burst of real training steps."""

import json

from click.testing import CliRunner

from lstmgen.cli.main import cli
from lstmgen.runtime import hardware


def test_forecast_json_is_consistent(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "estimate",
            "builtin:reber",
            "--config",
            "smoke",
            "--no-what-if",
            "--json",
            "--epochs",
            "4",
            "--steps-per-epoch",
            "100",
        ],
    )
    assert result.exit_code == 0, result.output
    f = json.loads(result.output)
    e = f["estimate"]
    assert e["steps_per_epoch"] == 100 and e["epochs"] == 4
    assert 0 < e["seconds_per_step"] < 5 and e["measured_steps"] >= 10
    assert abs(e["epoch_seconds"] - (100 * e["seconds_per_step"] + e["val_seconds"] + e["save_seconds"])) < 1e-6
    assert abs(e["run_seconds"] - (4 * e["epoch_seconds"] + e["compile_seconds"])) < 1e-6
    assert e["chars_per_second"] == 32 * 64 / e["seconds_per_step"]
    assert f["machine"]["cores"] >= 1 and "AVX" in f["machine"]["cpu_features"]


def test_forecast_what_if_rows_and_text():
    result = CliRunner().invoke(cli, ["estimate", "builtin:reber", "--config", "smoke"])
    assert result.exit_code == 0, result.output
    assert "what if" in result.output and "ms/step" in result.output and "(config)" in result.output
    assert "CPU" in result.output and "backend" in result.output


def test_tensorflow_report_parsing(monkeypatch):
    class Done:
        stderr = (
            "I0000 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU "
            "instructions in performance-critical operations.\nTo enable the following instructions: AVX2 "
            "AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.\n"
            "I0000 port.cc:153] oneDNN custom operations are on.\n"
        )

    monkeypatch.setattr(hardware.subprocess, "run", lambda *a, **k: Done())
    report = hardware.tensorflow_cpu_report()
    assert report["onednn"] and report["not_compiled_in"] == ["AVX-512", "AVX2", "FMA"]


def test_options_for_the_other_mode_are_refused():
    runner = CliRunner()
    assert runner.invoke(cli, ["estimate", "--log", "x.log", "--units", "64"]).exit_code == 2
    assert runner.invoke(cli, ["estimate", "corpus.txt", "--started", "10:40"]).exit_code == 2
    assert runner.invoke(cli, ["estimate"]).exit_code == 2
