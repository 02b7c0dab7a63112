"""The optimizer cfg asks for: Adam, or AdamW with the biases left undecayed (weight_decay)."""

import numpy as np
import pytest

from lstmgen.config import make_config


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
