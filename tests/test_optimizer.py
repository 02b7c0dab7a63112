"""The optimizer cfg asks for: Adam, or AdamW with the biases left undecayed (weight_decay), with the
second-moment decay adam_beta2."""

import numpy as np
import pytest

from contract import fails
from lstmgen.config import Config, make_config


def _one_step(weight_decay: float):
    from lstmgen.runtime.backend import keras
    from lstmgen.training.model import build_model, compile_model

    cfg = make_config(
        None,
        {"embedding_dim": 4, "layers": 1, "units": 8, "dropout": 0.0, "mixed_precision": "off"}
        | {"lr_schedule": "constant", "learning_rate": 0.01, "clipnorm": 0.0, "weight_decay": weight_decay},
    )
    keras.utils.set_random_seed(3)
    model = compile_model(build_model(cfg, 7), cfg, total_steps=1, jit_compile=False)
    before = [np.array(v) for v in model.trainable_variables]
    x = np.arange(24, dtype=np.int32).reshape(2, 12) % 7
    model.train_on_batch(x, (x + 1) % 7)
    after = {v.path: np.array(v) for v in model.trainable_variables}
    return model.optimizer, dict(zip(after, before, strict=True)), after


def test_weight_decay_shrinks_kernels_and_embeddings_but_not_biases():
    adam, before, plain = _one_step(0.0)
    adamw, _, decayed = _one_step(0.5)
    assert type(adam).__name__ == "Adam" and type(adamw).__name__ == "AdamW"
    for path, w in before.items():
        # AdamW decays before its Adam update, and both runs see the same gradients: the runs differ by lr × wd × w
        shrink = 0.0 if path.endswith("bias") else 0.01 * 0.5
        np.testing.assert_allclose(decayed[path] - plain[path], -shrink * w, atol=1e-6, err_msg=path)
    assert any(path.endswith("bias") for path in before) and any("embedding" in path for path in before)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_weight_decay_out_of_range_is_refused(bad):
    from lstmgen.errors import LstmgenError

    with pytest.raises(LstmgenError, match="weight_decay"):
        make_config(None, {"weight_decay": bad})


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_and_adamw_use_the_configured_second_moment_decay(weight_decay):
    from lstmgen.training.model import make_optimizer

    assert make_optimizer(Config(adam_beta2=0.95, weight_decay=weight_decay), total_steps=10).beta_2 == 0.95


def _last_step(beta_2: float, grads: list[float]) -> float:
    """The size of the last of Adam's steps on a scalar weight given these gradients (no schedule or clipping)."""
    from lstmgen.runtime.backend import keras
    from lstmgen.training.model import make_optimizer

    w = keras.Variable(np.zeros(()), dtype="float32")
    optimizer = make_optimizer(Config(adam_beta2=beta_2, lr_schedule="constant", clipnorm=0.0, ema=0.0), 10)
    before = 0.0
    for g in grads:
        before = float(keras.ops.convert_to_numpy(w))
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(np.float32(g)), w)])
    return abs(float(keras.ops.convert_to_numpy(w)) - before)


def test_a_shorter_second_moment_average_follows_shrinking_gradients_sooner():
    # one large gradient, then 300 small ones: 0.99 (an average over ~100 steps) has forgotten the large one and
    # 0.999 has not, so 0.999's steps stay smaller: 2.19x by Adam's formula
    grads = [10.0] + [0.1] * 300
    assert _last_step(0.99, grads) / _last_step(0.999, grads) == pytest.approx(2.19, rel=0.02)


def test_adam_beta2_default_and_override():
    assert make_config(None).adam_beta2 == 0.999  # Keras' default: runs saved before the key train as they did
    assert make_config(None, {"adam_beta2": "0.9"}).adam_beta2 == 0.9


@pytest.mark.parametrize(
    "value, match",
    [("0", r"in \(0, 1\), got 0"), ("1", r"in \(0, 1\), got 1"), ("-0.1", r"\(0, 1\)"), ("nan", "a number, got nan")],
)
def test_adam_beta2_out_of_range_is_one_line_before_anything_is_written(tmp_path, value, match):
    (tmp_path / "corpus.txt").write_text("abc " * 100, encoding="utf-8")
    fails(
        ["train", str(tmp_path / "corpus.txt"), "-o", str(tmp_path / "run"), "--adam-beta2", value],
        "adam_beta2.*" + match,
        untouched=[tmp_path],
        no_new=[tmp_path],
    )
