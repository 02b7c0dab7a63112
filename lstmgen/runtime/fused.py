"""Fused LSTM kernels, plugged into Keras' own hook for them (`keras.src.backend.lstm`).

`keras.layers.LSTM` first offers the whole sequence to the backend's `lstm()` function and runs its generic
per-timestep loop only when that raises NotImplementedError. Keras 3's torch backend answers only on CUDA (cuDNN);
on a CPU it loops in Python over time steps. PyTorch's CPU build has a fused LSTM (oneDNN, float32 and bfloat16)
behind the same `torch._VF.lstm` call, so on the torch backend lstmgen routes CPU tensors to it too. The layers,
their weights and the saved `.keras` files stay plain Keras: only the computation of the forward pass (and so of
its gradient) changes, and both match the generic loop to float rounding (tests/test_fused.py).

    >>> from lstmgen.runtime import fused        # doctest: +SKIP
    >>> fused.install("auto")              # on KERAS_BACKEND=torch and a CPU: 'fused (torch._VF.lstm, oneDNN)'
"""

from __future__ import annotations

import importlib

from lstmgen.runtime.backend import NAME

_installed: str | None = None


def available() -> bool:
    """True where a fused kernel exists that Keras does not already use: the torch backend (on a CPU)."""
    return NAME == "torch"


def install(setting: str) -> str:
    """Route LSTM layers to the fused kernel (`auto`/`fused`) or leave Keras as it is (`keras`); says what is in effect.

    Idempotent; `keras` after `fused` puts Keras' own function back."""
    global _installed
    from keras.src import backend as kb

    if setting == "fused" and not available():
        from lstmgen.errors import LstmgenError

        raise LstmgenError(
            f"--lstm-kernel fused needs the torch backend (KERAS_BACKEND=torch, pip install torch); "
            f"this is {NAME}: use auto or keras"
        )
    rnn = importlib.import_module(f"keras.src.backend.{NAME}.rnn")
    if NAME == "torch":
        _install_flat_cross_entropy()
    if setting == "keras" or not available():
        kb.lstm = rnn.lstm
        _installed = None
        return "LSTM kernel keras" + ("" if NAME == "torch" else f" ({NAME}: Keras already uses its fastest kernel)")
    kb.lstm = _torch_lstm(rnn)
    _installed = "fused"
    return "LSTM kernel fused (torch._VF.lstm on the CPU, oneDNN)"


def _torch_lstm(rnn):
    """Keras' torch `lstm()` with the fused call allowed on CPU tensors (CUDA keeps Keras' own cuDNN path)."""
    from keras.src import activations

    keras_lstm = rnn.lstm

    def lstm(
        inputs,
        initial_state_h,
        initial_state_c,
        mask,
        kernel,
        recurrent_kernel,
        bias,
        activation,
        recurrent_activation,
        return_sequences=False,
        go_backwards=False,
        unroll=False,
        batch_first=True,
    ):
        if (
            mask is not None
            or go_backwards
            or unroll
            or bias is None
            or not batch_first
            or activation not in (activations.tanh,)
            or recurrent_activation not in (activations.sigmoid,)
        ):
            raise NotImplementedError  # the layer falls back to its generic loop
        kernel = rnn.convert_to_tensor(kernel)
        x = rnn.convert_to_tensor(inputs).to(kernel.dtype)
        if x.device.type != "cpu":
            return keras_lstm(
                inputs,
                initial_state_h,
                initial_state_c,
                mask,
                kernel,
                recurrent_kernel,
                bias,
                activation,
                recurrent_activation,
                return_sequences,
                go_backwards,
                unroll,
                batch_first,
            )
        h0 = rnn.convert_to_tensor(initial_state_h).to(kernel.dtype)
        c0 = rnn.convert_to_tensor(initial_state_c).to(kernel.dtype)
        return rnn._cudnn_lstm(
            x,
            h0,
            c0,
            kernel,
            rnn.convert_to_tensor(recurrent_kernel).to(kernel.dtype),
            rnn.convert_to_tensor(bias).to(kernel.dtype),
            return_sequences,
            x.device,
        )

    return lstm


def _install_flat_cross_entropy() -> None:
    """Keras' torch `sparse_categorical_crossentropy` moves the class axis of (batch, time, vocab) logits to position
    1, so `F.cross_entropy` reduces over a strided axis: 2.6 against 0.6 ms forward and backward at 32 × 64 × 65,
    and about 2× at the naive notebook's 128 × 100 (measured with torch 2.14 on this CPU). Flattening to
    (batch · time, vocab) is a free view of the same numbers and the same loss. Idempotent."""
    import torch
    from keras.src.backend.torch import nn
    from keras.src.backend.torch.core import convert_to_tensor

    keras_ce = getattr(nn.sparse_categorical_crossentropy, "keras_original", nn.sparse_categorical_crossentropy)

    def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
        output = convert_to_tensor(output)
        if from_logits and output.dim() > 2 and axis in (-1, output.dim() - 1):
            target = convert_to_tensor(target, dtype=torch.long)
            if target.dim() == output.dim() and target.shape[-1] == 1:
                target = target.squeeze(-1)
            if tuple(target.shape) == tuple(output.shape[:-1]):
                flat = torch.nn.functional.cross_entropy(
                    output.reshape(-1, output.shape[-1]), target.reshape(-1), reduction="none"
                )
                return flat.reshape(target.shape)
        return keras_ce(target, output, from_logits=from_logits, axis=axis)

    sparse_categorical_crossentropy.keras_original = keras_ce  # type: ignore[attr-defined]
    nn.sparse_categorical_crossentropy = sparse_categorical_crossentropy
