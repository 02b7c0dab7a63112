"""Stage 2, training: the model, `model.fit` with checkpoints, stops, fine-tuning, forecasts."""
