"""Weight averaging (`ema`): an exponential moving average of the weights, which validation, checkpoints and every
model a run hands out use, while training goes on from the weights themselves.

The average is Keras' own (`use_ema` on the optimizer: one slot per weight, updated after every step). Where Keras
falls short for lstmgen's epoch-at-a-time `fit`:

- `fit` overwrites the weights with their average when it returns, which lstmgen's per-epoch calls would do every
  epoch (training would restart from the average each time); `hold` turns that off;
- a checkpoint is saved with the two swapped (`averaged`): the model in the .keras file is the average, so `generate`,
  `eval`, `serve`, the NumPy engine and fine-tuning all use it without knowing, and the weights training goes on
  from sit in the optimizer's average slots, so a resumed run swaps them back (`after_restore`) and continues exactly.

Before the first step the slots hold nothing yet (the first step's weights are copied into them), so nothing is
swapped then. Early on the average spans about the last tenth of the steps so far (`_update`).

    >>> with averaged(model):             # doctest: +SKIP
    ...     model.evaluate(val)           # the average's validation loss
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator

from lstmgen.runtime import torchstep
from lstmgen.runtime.backend import NAME, keras

ops = keras.ops
RAMP = 10.0  # early on, the average spans about the last 1/RAMP of the steps so far


def hold(optimizer: keras.optimizers.Optimizer) -> None:
    """Keep `fit` from replacing the weights with their average when it returns, and ramp the decay up over the
    first steps (`_update`); a no-op without `use_ema`."""
    if optimizer.use_ema:
        optimizer.finalize_variable_values = lambda var_list: None
        optimizer._update_model_variables_moving_average = types.MethodType(_update, optimizer)


def _update(self, trainable_variables) -> None:
    """Keras' update with the decay capped at (t / (t + 1))^10 at step t, which averages about the last tenth of the
    steps so far, until that reaches the asked decay (0.995: after ~2,000 steps). Keras' fixed decay would keep the
    first step's weights at a weight of decay^t (8 % after an epoch of 500 steps at 0.995), and a plain mean of all
    the steps so far would lag behind the fast-falling loss of the first epochs."""
    pairs = [
        (w, a) for w, a in zip(trainable_variables, self._model_variables_moving_average, strict=True) if a is not None
    ]
    if NAME == "torch":  # eager: the decay as a Python float, the update in one multi-tensor pass
        t = int(self.iterations.value)
        share = 1.0 - min(float(self.ema_momentum), (t / (t + 1.0)) ** RAMP)
        if torchstep.lerp_averages([w for w, _ in pairs], [a for _, a in pairs], share):
            return
    t = ops.cast(self.iterations, "float32")
    decay = ops.minimum(self.ema_momentum, ops.power(t / (t + 1.0), RAMP))  # 0 at the first step: its weights
    for weight, average in pairs:
        share = ops.cast(1.0 - decay, weight.dtype)
        average.assign(ops.add(average, ops.multiply(share, ops.subtract(weight, average))))


def _slots(model: keras.Model) -> list | None:
    """(weight, average) pairs, or None when the model keeps no average or it has not been started yet."""
    optimizer = model.optimizer
    if optimizer is None or not getattr(optimizer, "use_ema", False) or not optimizer.built:
        return None
    if int(keras.ops.convert_to_numpy(optimizer.iterations)) == 0:
        return None
    return list(zip(model.trainable_variables, optimizer._model_variables_moving_average, strict=True))


def swap(model: keras.Model) -> bool:
    """Exchange the weights and their averages (exact: values are only moved); False when there is nothing to swap."""
    pairs = _slots(model)
    if pairs is None:
        return False
    for weight, average in pairs:
        held = keras.ops.convert_to_numpy(weight.value).copy()
        weight.assign(average.value)
        average.assign(held)
    return True


@contextlib.contextmanager
def averaged(model: keras.Model) -> Iterator[bool]:
    """Inside: the model holds the averaged weights (yields whether it swapped). Nested uses swap once."""
    if getattr(model, "_lstmgen_averaged", False):
        yield True
        return
    swapped = swap(model)
    model._lstmgen_averaged = swapped
    try:
        yield swapped
    finally:
        if swapped:
            swap(model)
            model._lstmgen_averaged = False


def after_restore(model: keras.Model) -> None:
    """A checkpoint was loaded into `model`: its weights are the average (see the module's note); put the training
    weights back in place."""
    swap(model)
