"""Run directories: layout, lock, checkpoints, the data and model a run uses, what it holds."""
