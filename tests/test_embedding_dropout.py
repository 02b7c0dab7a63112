"""embedding_dropout: dropout on the first LSTM layer's input (the embedding), or only between layers and before
the output, as char-rnn does."""

import numpy as np
import pytest

from lstmgen.config import Config, make_config
from lstmgen.runtime.backend import keras
from lstmgen.training.model import build_model


def _first_layer_outputs(embedding_dropout: bool) -> tuple[np.ndarray, np.ndarray]:
    """The first LSTM layer's output on the same weights and ids, in training and in inference."""
    cfg = Config(embedding_dim=8, layers=2, units=12, dropout=0.5, embedding_dropout=embedding_dropout, seed=3)
    model = build_model(cfg, vocab_size=11)
    ids = np.arange(40, dtype="int32").reshape(4, 10) % 11
    embedded = model.get_layer("embedding")(ids)
    lstm = model.get_layer("lstm_0")
    numpy = keras.ops.convert_to_numpy  # np.asarray fails on torch tensors that carry gradients
    return numpy(lstm(embedded, training=True)), numpy(lstm(embedded, training=False))


def test_without_embedding_dropout_the_first_layer_sees_the_whole_embedding_in_training():
    assert np.allclose(*_first_layer_outputs(False))


def test_with_embedding_dropout_training_drops_part_of_the_embedding():
    assert not np.allclose(*_first_layer_outputs(True))


@pytest.mark.parametrize("embedding_dropout, rates", [(True, [0.3, 0.3]), (False, [0.0, 0.3])])
def test_the_later_layers_and_the_output_keep_their_dropout(embedding_dropout, rates):
    model = build_model(Config(layers=2, units=8, dropout=0.3, embedding_dropout=embedding_dropout), vocab_size=5)
    assert [model.get_layer(f"lstm_{i}").dropout for i in range(2)] == rates
    assert model.get_layer("output_dropout").rate == 0.3


def test_the_option_reads_from_config_files_and_overrides(tmp_path):
    assert make_config(None).embedding_dropout is True  # runs saved before the key existed keep their dropout
    (tmp_path / "run.yaml").write_text("embedding_dropout: false\n", encoding="utf-8")
    assert make_config(str(tmp_path / "run.yaml")).embedding_dropout is False
    assert make_config(None, {"embedding_dropout": "false"}).embedding_dropout is False
