"""fit_to_budget: a run with a time budget and a cosine schedule plans the epochs that fit and anneals by the last."""

import json

import pytest

import lstmgen
from conftest import TINY_OPTIONS, TINY_TEXT
from lstmgen.training.budget import epochs_in_budget

# epoch-end rows: wall seconds and global steps (epoch 1 slower: start-up)
HISTORY = [
    {"wall_seconds": 150.0, "global_step": 100},
    {"wall_seconds": 250.0, "global_step": 200},
    {"wall_seconds": 352.0, "global_step": 300},
    {"wall_seconds": 450.0, "global_step": 400},
]


def test_the_recent_pace_decides_without_the_first_epoch():
    # 100 s per epoch since epoch 1: (1800 - 450) // 100 = 13 more
    assert epochs_in_budget(50, HISTORY, 1800, 100) == 17
    assert epochs_in_budget(50, HISTORY[:2], 1800, 100) == 2 + ((1800 - 250) // 100)
    assert epochs_in_budget(50, HISTORY[:1], 1800, 100) == 1 + ((1800 - 150) // 150)  # only epoch 1 to go by
    assert epochs_in_budget(50, HISTORY, 1800, 100, slack=1.1) == 4 + (1350 // 110)


def test_never_more_than_asked_nor_fewer_than_done():
    assert epochs_in_budget(10, HISTORY, 1800, 100) == 10
    assert epochs_in_budget(50, HISTORY, 300, 100) == 4  # already past the budget: stop at the epoch done
    assert epochs_in_budget(50, HISTORY, 460, 100) == 4  # 10 s left: no epoch fits


def test_a_new_epoch_length_scales_the_pace():
    # 100 steps took 100 s; epochs of 50 steps take 50 s
    assert epochs_in_budget(50, HISTORY, 1800, 50) == 4 + (1350 // 50)


@pytest.mark.parametrize(
    "history",
    [
        [],
        [{"wall_seconds": None, "global_step": 100}],
        [{"global_step": 100}],
        [{"wall_seconds": 5.0, "global_step": 0}],
    ],
)
def test_the_asked_epochs_when_the_history_cannot_tell(history):
    assert epochs_in_budget(20, history, 1800, 100) == 20


def test_no_budget_no_plan():
    assert epochs_in_budget(20, HISTORY, float("inf"), 100) == 20


TINY = TINY_OPTIONS | dict(sample_every_epochs=0, tensorboard=False, stateful_val_streams=0, learning_rate=0.01)


def test_a_budgeted_run_ends_annealed_at_the_planned_epoch_and_resumes_to_the_asked_ones(tmp_path, monkeypatch):
    import lstmgen.training.trainer as trainer

    corpus = tmp_path / "book.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    # the budget's verdict after each epoch: only 2 of the 5 epochs fit
    monkeypatch.setattr(trainer, "epochs_in_budget", lambda cap, history, *a, **k: min(cap, 2) if history else cap)
    run = lstmgen.train(
        corpus, out=tmp_path / "run", epochs=5, max_minutes=60, fit_to_budget=True, progress=False, **TINY
    )
    assert run.result.status == "time budget reached" and run.status == "time budget"
    rows = run.history
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[-1]["learning_rate"] == pytest.approx(1e-4)  # the cosine's end: min_learning_rate, not mid-schedule
    assert rows[0]["learning_rate"] > 10 * rows[-1]["learning_rate"]
    log = (run.path / "train.log").read_text()
    assert "time budget: 2 of 5 epochs fit in 60 min" in log and "(time budget)" in log
    newest = sorted((run.path / "checkpoints").glob("*.json"))[-1]
    assert json.loads(newest.read_text())["config"]["epochs"] == 5  # the asked-for epochs, not the plan

    monkeypatch.undo()  # the budget now fits them all: the run goes on to the 5 asked for
    again = lstmgen.train(run, epochs=5, max_minutes=60, fit_to_budget=True, progress=False, **TINY)
    assert again.result.status == "finished" and [r["epoch"] for r in again.history] == [1, 2, 3, 4, 5]


def test_off_by_default_and_without_a_budget_or_with_a_constant_rate_nothing_is_planned(tmp_path, monkeypatch):
    import lstmgen.training.trainer as trainer

    corpus = tmp_path / "book.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    monkeypatch.setattr(trainer, "epochs_in_budget", lambda *a, **k: 1)
    cases = {
        "off": {"max_minutes": 60},
        "no budget": {"fit_to_budget": True},
        "constant": {"max_minutes": 60, "fit_to_budget": True, "lr_schedule": "constant"},
    }
    for name, extra in cases.items():
        run = lstmgen.train(corpus, out=tmp_path / name, epochs=3, progress=False, **TINY, **extra)
        assert run.result.status == "finished" and len(run.history) == 3


def test_a_budget_spent_during_validation_is_recorded_as_such(tmp_path, monkeypatch):
    """The epoch's steps ran within the budget and its validation or save used the rest: the epoch-end checkpoint
    says `time budget reached`, so `runs` does not call the run interrupted."""
    import math

    import lstmgen.training.epochloop as epochloop

    class NoMidEpochStop(epochloop.TrainMonitor):
        def __init__(self, trainer, stop, budget, start_step):
            super().__init__(trainer, stop, math.inf, start_step)

    monkeypatch.setattr(epochloop, "TrainMonitor", NoMidEpochStop)
    corpus = tmp_path / "book.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    run = lstmgen.train(corpus, out=tmp_path / "run", epochs=3, max_minutes=1e-6, progress=False, **TINY)
    assert run.result.status == "time budget reached" and len(run.history) == 1
    assert run.status == "time budget"
