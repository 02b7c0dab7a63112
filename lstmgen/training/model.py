"""The network: Embedding → N × LSTM(return_sequences) → Dense(vocab logits). Backend-agnostic Keras 3."""

from __future__ import annotations

from lstmgen.config import Config
from lstmgen.runtime.backend import keras


def build_model(cfg: Config, vocab_size: int, *, batch_size: int | None = None) -> keras.Model:
    """A functional model mapping int ids (batch, time) to logits (batch, time, vocab)."""
    inputs = keras.Input(shape=(None,), batch_size=batch_size, dtype="int32", name="ids")
    x = keras.layers.Embedding(vocab_size, cfg.embedding_dim, name="embedding")(inputs)
    for i in range(cfg.layers):
        # Input dropout keeps the cuDNN path on GPU (recurrent_dropout would disable it).
        lstm = keras.layers.LSTM(
            cfg.units,
            return_sequences=True,
            return_state=cfg.stateful,  # for the stateful training wrapper (training/stateful.py); unused here
            dropout=cfg.dropout if i or cfg.embedding_dropout else 0.0,
            seed=layer_seed(cfg, i),  # see output_dropout
            name=f"lstm_{i}",
            trainable=i >= cfg.freeze_layers,
        )
        x = lstm(x)[0] if cfg.stateful else lstm(x)
    if cfg.dropout:
        # One mask per sequence, as Keras' LSTM uses for its inputs (variational dropout, Gal & Ghahramani 2016):
        # a per-character mask cost 7 % of a CPU training step in random-number generation alone.
        # Seeded layers draw from their own seed variables, which checkpoints carry (seed_states), on every backend;
        # unseeded ones take torch's fast path, which draws from torch's global generator, which they do not.
        x = keras.layers.Dropout(
            cfg.dropout, noise_shape=(None, 1, cfg.units), seed=layer_seed(cfg, cfg.layers), name="output_dropout"
        )(x)
    # The logits are computed in the policy's compute dtype, as under PyTorch's autocast (bf16 halves this layer's
    # time on a CPU: 5.7 of ~70 ms per step at the naive notebook's shape); the loss casts them to float32 and
    # computes the softmax there, as every Keras loss does.
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(inputs, logits, name="lstmgen")


def layer_seed(cfg: Config, k: int) -> int:
    """Layer k's dropout seed, within every backend's seed type (torch int32, JAX uint32)."""
    return (cfg.seed + k) % 2**31


def set_weights(model: keras.Model, weights) -> None:
    """Put a `runs.kerasfile.Weights` (Keras layout, e.g. a base model remapped to this vocabulary) into `model`."""
    model.get_layer("embedding").set_weights([weights.embedding])
    for layer, cell in zip(lstm_layers(model), weights.cells, strict=True):
        layer.set_weights(list(cell))
    model.get_layer("logits").set_weights([weights.kernel, weights.bias])


def learning_rate(cfg: Config, total_steps: int):
    if cfg.lr_schedule == "constant" or total_steps <= 0:
        return cfg.learning_rate
    warmup = min(cfg.warmup_steps, max(total_steps - 1, 0))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate * 1e-2 if warmup else cfg.learning_rate,
        decay_steps=max(total_steps - warmup, 1),
        alpha=cfg.min_learning_rate / cfg.learning_rate,
        warmup_target=cfg.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def make_optimizer(cfg: Config, total_steps: int) -> keras.optimizers.Optimizer:
    """Adam on cfg's schedule with cfg.adam_beta2 and global-norm clipping; AdamW when cfg.weight_decay is set, the
    biases excluded; with cfg.ema, Keras' moving average of the weights (training/ema.py)."""
    common = {
        "learning_rate": learning_rate(cfg, total_steps),
        "beta_2": cfg.adam_beta2,
        "global_clipnorm": cfg.clipnorm or None,
    }
    if cfg.ema:
        common |= {"use_ema": True, "ema_momentum": cfg.ema}
    if not cfg.weight_decay:
        return keras.optimizers.Adam(**common)
    optimizer = keras.optimizers.AdamW(weight_decay=cfg.weight_decay, **common)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


def compile_model(
    model: keras.Model, cfg: Config, total_steps: int, jit_compile, optimizer: keras.optimizers.Optimizer | None = None
) -> keras.Model:
    """Compile with Adam on cfg's schedule, or with `optimizer` (another model's over the same weights: one set of
    slots, as the stateful wrapper of training/stateful.py shares its model's)."""
    if optimizer is None:
        optimizer = make_optimizer(cfg, total_steps)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
        steps_per_execution=cfg.steps_per_execution,
    )
    return model


def lstm_layers(model: keras.Model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]


def model_shape(model: keras.Model) -> dict:
    """The architecture facts a run's config must agree with."""
    emb = model.get_layer("embedding")
    lstms = lstm_layers(model)
    return {
        "vocab_size": int(emb.input_dim),
        "embedding_dim": int(emb.output_dim),
        "layers": len(lstms),
        "units": int(lstms[0].units) if lstms else 0,
    }


def _seed_variables(model: keras.Model) -> list:
    """The model variables that are not weights: the dropout layers' random-generator states, in model order."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def seed_states(model: keras.Model) -> list[dict]:
    """The generator states as JSON. Keras does not save them in a .keras file, so a checkpoint carries them to
    make a resumed run draw the same dropout masks."""
    return [{"path": v.path, "state": keras.ops.convert_to_numpy(v.value).tolist()} for v in _seed_variables(model)]


def restore_seed_states(model: keras.Model, saved: list[dict] | None) -> None:
    """Put saved generator states back, in model order (paths get per-process suffixes, so order is the key)."""
    states = _seed_variables(model)
    if not saved or len(saved) != len(states):
        return
    for v, s in zip(states, saved, strict=True):
        v.assign(keras.ops.convert_to_tensor(s["state"], dtype=v.dtype))
