"""lstmgen.EtaCallback on a real (tiny) model.fit, and the keras-free EtaTracker it is built on."""

import subprocess
import sys
from datetime import datetime

import numpy as np
import pytest

from lstmgen.eta.track import EtaTracker, eta_line


def test_callback_in_a_real_fit_reports_and_exposes_the_forecast():
    import keras

    import lstmgen

    lines = []
    eta = lstmgen.EtaCallback(every_steps=2, print_fn=lines.append)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.random.rand(32, 4).astype("float32"), np.random.rand(32, 1).astype("float32")
    before = datetime.now()
    model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[eta])
    assert len([ln for ln in lines if "run ends" in ln or "finished" in ln]) >= 4
    assert lines[-1].startswith("ETA: run finished at")
    est = eta.estimate
    assert est.finished and est.epochs == 4 and est.interval == 0.8
    assert before <= eta.run_end <= datetime.now()
    mid = [ln for ln in lines if "left" in ln]
    assert mid and any("80% range" in ln for ln in mid)


def test_callback_writes_to_a_bar_instead_of_printing():
    import keras

    from lstmgen.training.etacallback import EtaCallback

    class Bar:
        text = None

        def set_postfix_str(self, s, refresh=True):
            self.text = s

    bar, printed = Bar(), []
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(
        np.ones((8, 2)), np.ones((8, 1)), epochs=3, verbose=0, callbacks=[EtaCallback(bar=bar, print_fn=printed.append)]
    )
    assert bar.text.startswith("ETA:") and printed == []
    with pytest.raises(ValueError, match="every_steps"):
        EtaCallback(every_steps=-1)


def test_tracker_forecast_matches_the_epochs_fed():
    t = EtaTracker()
    assert t.forecast(now=0.0) is None and eta_line(None).startswith("ETA: waiting")
    now = 1000.0
    for e, d in enumerate([30.0, 20.0, 20.5, 19.5, 20.0], 1):  # epoch 1 compiles: left out
        t.epoch_begin(e, 10)
        now += d
        t.epoch_end(e, 10, d, steps=50, now=now)
    est = t.forecast(now=now)
    assert est.remaining_s == pytest.approx(5 * 20.0, rel=0.03)
    assert est.run_end_low < est.run_end < est.run_end_high
    t.epoch_begin(6, 10)
    t.step(6, 10, 25, 50, 10.0, now + 10)
    mid = t.forecast(now=now + 10)
    assert mid.epoch_ends[0].epoch == 6 and mid.epoch_remaining_s == pytest.approx(10.0, rel=0.1)
    assert "epoch 6/10 ends" in eta_line(mid)


def test_import_lstmgen_stays_light():
    code = "import sys, lstmgen; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_epoch_ends_only_keeps_keras_async_batch_dispatch():
    """every_steps=0 must not override on_train_batch_end: Keras 3 then keeps batch callbacks asynchronous
    (on backends it calls thread-safe: jax, torch, numpy; tensorflow pythonifies the logs every step anyway)."""
    import keras
    from keras.src.backend import IS_THREAD_SAFE
    from keras.src.callbacks.callback_list import CallbackList

    from lstmgen.training.etacallback import EtaCallback

    quiet = EtaCallback(print_fn=None)
    assert keras.src.utils.python_utils.is_default(quiet.on_train_batch_end)
    assert CallbackList([quiet])._async_train is IS_THREAD_SAFE
    stepping = EtaCallback(every_steps=5, print_fn=None)
    assert not keras.src.utils.python_utils.is_default(stepping.on_train_batch_end)
    assert not CallbackList([stepping])._async_train
