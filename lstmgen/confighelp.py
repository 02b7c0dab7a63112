"""Each configuration key's one-line help: the CLI's `--KEY` option help and the README's configuration table.

python -m lstmgen.confighelp        # prints the README table (tests/test_config.py checks the README holds it)
"""

from __future__ import annotations

from dataclasses import fields

from lstmgen.config import Config

HELP = {
    "embedding_dim": "size of the character embedding",
    "layers": "number of stacked LSTM layers",
    "units": "LSTM units per layer",
    "dropout": "dropout on each LSTM layer's input (the first one's with embedding_dropout) and on the output, one "
    "mask per sequence (variational), in [0, 1)",
    "embedding_dropout": "apply dropout to the embedding too, the first LSTM layer's input (false: only between "
    "the layers and before the output, as char-rnn does)",
    "init_from": "fine-tune: start a new run from this model (RUN_DIR, MODEL.keras or builtin:NAME); its shape and "
    "weights carry over and the fine-tuning defaults apply (FINETUNE_DEFAULTS; each overridable)",
    "init_vocab": "with --from: the run's characters are the corpus's own (corpus) or also the base's (union)",
    "freeze_layers": "with --from: keep the first N LSTM layers fixed at the base's weights",
    "seq_len": "characters per training sequence (truncated BPTT length)",
    "batch_size": "sequences per training step",
    "val_fraction": "fraction of the corpus held out for validation (when preparing raw text)",
    "lowercase": "lowercase the corpus (when preparing raw text)",
    "epochs": "number of epochs to train",
    "steps_per_epoch": "steps per epoch; 0 means one pass over the training split",
    "learning_rate": "peak Adam learning rate",
    "min_learning_rate": "learning rate at the end of the cosine schedule",
    "warmup_steps": "linear warm-up steps",
    "lr_schedule": "cosine or constant",
    "clipnorm": "gradient clipping by global norm (0 disables)",
    "adam_beta2": "decay of Adam's moving average of squared gradients, in (0, 1): 0.999 (Keras' default) averages "
    "about the last 1,000 steps, 0.99 about the last 100, so step sizes follow the shrinking gradients sooner",
    "weight_decay": "decoupled weight decay (AdamW) on the kernels and the embedding, not the biases; each step "
    "multiplies them by 1 - learning rate × weight_decay (0: plain Adam)",
    "ema": "keep a moving average of the weights with this decay per step (0.995: about the last 200 steps; early "
    "on, about the last tenth of the steps so far); validation, checkpoints and the saved models use the average, "
    "training goes on from the weights (0: off; on or off is fixed when a run is created; multi-process jobs keep "
    "none)",
    "stateful": "char-rnn's stateful training: the training text is cut into batch_size contiguous streams and "
    "each batch continues the previous one's text and LSTM state (reset at each epoch's start, kept in checkpoints)",
    "max_minutes": "stop after this many minutes of training, validation included (0: no limit)",
    "fit_to_budget": "with max_minutes and the cosine schedule: after each epoch, plan how many of the epochs fit in "
    "the budget from the pace so far and end the schedule with the last of them, so the run stops annealed and "
    "validated (for a model that overfits late; 5-minute runs of the CPU default were no better with it)",
    "seed": "random seed for weights, data order and dropout (0: pick one and record it)",
    "jit_compile": "XLA compilation: auto, on or off",
    "mixed_precision": "auto, off or bf16 (mixed_bfloat16 compute, float32 weights); auto uses bf16 where the "
    "CPU/GPU computes it natively",
    "steps_per_execution": "training steps per compiled call (tensorflow and jax; torch runs one)",
    "lstm_kernel": "auto, fused or keras: fused runs each LSTM layer as one fused kernel where Keras does not "
    "(torch backend on a CPU: torch._VF.lstm, oneDNN); auto uses it where it exists",
    "threads": "CPU threads for the backend's math (TensorFlow intra-op pool, torch); 0: auto (TensorFlow on a "
    "CPU: one fewer than the CPUs, leaving one to feed batches; otherwise the backend's default)",
    "val_batch_size": "sequences per validation step",
    "stateful_val_streams": "also report the validation loss with the LSTM state carried through the validation "
    "split (as the LSTM papers report bits/char), cut into this many contiguous pieces scored side by side (0: off); "
    "the windowed val_loss stays the one that picks the best model",
    "checkpoint_minutes": "write a mid-epoch checkpoint this often, in minutes (0: only at epoch ends)",
    "checkpoint_steps": "write a mid-epoch checkpoint every N steps (0: off)",
    "keep_checkpoints": "how many recent checkpoints to keep (the best one is always kept)",
    "log_every_steps": "write a progress line to train.log every N steps",
    "tensorboard": "write TensorBoard logs (loss, validation loss, learning rate) to RUN/tensorboard",
    "sample_every_epochs": "after every N epochs print a short sample and append it to RUN/samples.txt (0: off)",
    "sample_length": "characters in each per-epoch sample",
    "sample_temperatures": "comma-separated temperatures of the per-epoch samples, e.g. 0.5,1.0",
    "distribute": "data-parallel training: off, auto, mirrored (TensorFlow MirroredStrategy) or data_parallel (JAX "
    "keras.distribution.DataParallel); auto picks the backend's one when there are several devices",
    "devices": "comma-separated devices to train on, e.g. /gpu:0,/gpu:1 (TensorFlow; /cpu:0,/cpu:1 splits the CPU) "
    "or 0,1 (JAX device indices); empty: all local GPUs, else the CPU",
    "lr_scaling": "learning-rate rule for R replicas, batch_size being the global batch: none, linear (×R) or sqrt "
    "(×√R), applied to learning_rate and min_learning_rate",
    "coordinator": "multi-host (JAX): host:port of process 0 (empty: $LSTMGEN_COORDINATOR or $JAX_COORDINATOR_ADDRESS)",
    "num_processes": "multi-host (JAX): processes in the job (0: $LSTMGEN_NUM_PROCESSES or $JAX_NUM_PROCESSES, else 1)",
    "process_id": "multi-host (JAX): this process's rank, 0 is the chief (-1: $LSTMGEN_PROCESS_ID or $JAX_PROCESS_ID)",
}


def reference_markdown() -> str:
    """The configuration reference table for the README, generated from the Config dataclass."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for f in fields(Config):
        default = "" if f.default == "" else f.default
        rows.append(f"| `{f.name}` | `{default}` | {HELP.get(f.name, '')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(reference_markdown())
