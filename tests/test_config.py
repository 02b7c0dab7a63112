import pytest

from lstmgen.config import Config, make_config, preset_names, read_yaml
from lstmgen.errors import LstmgenError


def test_presets_exist_and_load():
    assert {"smoke", "cpu", "gpu"} <= set(preset_names())
    for name in preset_names():
        cfg = make_config(name)
        assert isinstance(cfg, Config)


def test_precedence_defaults_file_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("units: 32\nepochs: 3\n")
    cfg = make_config(str(f), {"epochs": 7}, base={"units": 16, "layers": 1})
    assert (cfg.units, cfg.epochs, cfg.layers) == (32, 7, 1)


def test_unknown_key_suggests_close_match(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("unitz: 32\n")
    with pytest.raises(LstmgenError, match="did you mean 'units'"):
        read_yaml(str(f))


@pytest.mark.parametrize(
    "text, match",
    [
        ("units: many\n", "must be an integer"),
        ("dropout: [1]\n", "must be a number"),
        ("units: 32\n  layers: [\n", "not valid YAML"),
        ("- a\n- b\n", "mapping"),
        ("lr_schedule: linear\n", "must be one of"),
        ("dropout: 1.5\n", r"dropout.*must be a number in \[0, 1\)"),
        ("units: 0\n", "must be an integer from 1 to"),
        ("learning_rate: .nan\n", "must be a number"),
    ],
)
def test_bad_config_files(tmp_path, text, match):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(LstmgenError, match=match):
        make_config(str(f))


def test_missing_config_lists_presets():
    with pytest.raises(LstmgenError, match="smoke"):
        make_config("no-such-config")


def test_bool_and_numeric_coercion():
    cfg = make_config(None, {"lowercase": "yes", "epochs": 4.0, "learning_rate": "0.01"})
    assert cfg.lowercase is True and cfg.epochs == 4 and cfg.learning_rate == 0.01


def test_cpu_preset_is_the_default():
    assert make_config("cpu") == make_config(None)


def test_readme_config_reference_is_generated_from_code():
    from pathlib import Path

    from lstmgen.confighelp import reference_markdown

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert reference_markdown() in readme, "regenerate with: python -m lstmgen.confighelp"
