"""The training state is the checkpoint schema: it round-trips, reads schema-1 files (no "schema" field), refuses a
newer schema with one line and names what is damaged (no TensorFlow)."""

import json
import shutil
from pathlib import Path

import pytest

from lstmgen.errors import RunError
from lstmgen.runs.rundir import RunDir
from lstmgen.runs.state import SCHEMA, DamagedState, TrainState

V1_CKPT = Path(__file__).parent / "fixtures" / "run_v1" / "run" / "checkpoints" / "ckpt-000000006.json"


def test_a_state_round_trips_through_json():
    st = TrainState(
        epoch=2,
        step=1,
        global_step=9,
        train_seconds=1.5,
        best_val_loss=3.25,
        best_epoch=2,
        seed=7,
        history=[{"epoch": 1, "global_step": 4, "loss": 3.5}],
        status="running",
        config={"units": 16},
    )
    obj = json.loads(json.dumps(st.to_json()))
    assert obj["schema"] == SCHEMA and obj["format"] == "lstmgen-checkpoint"
    assert TrainState.from_json(obj, 9) == st


def test_a_schema_1_checkpoint_loads_with_every_field():
    obj = json.loads(V1_CKPT.read_text())
    assert "schema" not in obj
    st = TrainState.from_json(obj, 6)
    assert (st.epoch, st.step, st.global_step, st.status, st.seed) == (1, 2, 6, "interrupted", 1)
    assert st.best_epoch == 1 and st.history[0]["val_loss"] == 3.55379 and st.config["units"] == 16
    again = st.to_json()
    assert {k: v for k, v in again.items() if k != "schema"} == obj  # the same JSON, now marked schema 2


@pytest.mark.parametrize(
    "change, why",
    [
        ({"epoch": -1}, '"epoch" is not a whole number ≥ 0'),
        ({"history": {}}, '"history" is not a list'),
        ({"best_val_loss": "low"}, '"best_val_loss" is not a number or null'),
        ({"history": [{"epoch": 1}]}, 'history row 1: "global_step" is missing or not a whole number ≥ 0'),
        ({"global_step": 5}, "its global_step 5 is not the 6 in its name"),
        ({"schema": "2"}, '"schema" is not a whole number ≥ 1'),
    ],
)
def test_a_damaged_state_says_why(change, why):
    obj = {**json.loads(V1_CKPT.read_text()), **change}
    with pytest.raises(DamagedState) as e:
        TrainState.from_json(obj, 6)
    assert str(e.value) == why
    del obj["step"]
    with pytest.raises(DamagedState) as e:
        TrainState.from_json(obj, 6)
    assert str(e.value) in ('"step" is missing', why)


def test_a_newer_schema_is_refused_in_one_line(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(V1_CKPT.parent.parent, run)
    obj = {**json.loads(V1_CKPT.read_text()), "schema": SCHEMA + 1}
    (run / "checkpoints" / V1_CKPT.name).write_text(json.dumps(obj))
    with pytest.raises(
        RunError,
        match=r"written by a newer lstmgen \(checkpoint schema 3; this lstmgen reads up "
        r"to 2\); upgrade lstmgen",
    ) as e:
        RunDir(run).checkpoints()
    assert "\n" not in str(e.value)
