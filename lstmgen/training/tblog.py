"""TensorBoard logs of a run, written with `tf.summary` against the global step.

Keras' own TensorBoard callback numbers batches and epochs from zero on every `fit` call, and lstmgen calls `fit` once
per epoch (and again on resume), so the scalars are written here instead: `train/loss` (the epoch's running mean, as in
train.log) every `log_every_steps` steps, and per epoch `epoch/loss`, `epoch/val_loss`, `epoch/val_bpc`,
`epoch/val_loss_stateful` and `epoch/learning_rate`. They are written with the core `tf.summary.write` op and the
scalar plugin's metadata, which is what `tf.summary.scalar` does, minus its need for the `tensorboard` package (only
viewing needs it: `pip install tensorboard && tensorboard --logdir runs/`). TensorFlow is a dependency whatever the
Keras backend.
"""

from __future__ import annotations

from pathlib import Path

TB_DIR = "tensorboard"


class TensorBoardLog:
    """Scalars for one training process; a resumed run adds a new event file to the same directory."""

    def __init__(self, run_path: str | Path):
        from lstmgen.runtime.backend import import_tensorflow

        tf = import_tensorflow()
        from tensorflow.core.framework import summary_pb2

        self._tf = tf
        self._metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
            data_class=summary_pb2.DATA_CLASS_SCALAR,
        )
        self.log_dir = Path(run_path) / TB_DIR
        self._writer = tf.summary.create_file_writer(str(self.log_dir))

    def scalars(self, step: int, values: dict) -> None:
        with self._writer.as_default(step=int(step)):
            for name, value in values.items():
                if value is not None:
                    self._tf.summary.write(
                        name, self._tf.constant(float(value), self._tf.float32), metadata=self._metadata
                    )

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
