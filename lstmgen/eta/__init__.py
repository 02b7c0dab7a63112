"""Training-log parsing and ETA forecasts. Standard library only (no NumPy, no Keras)."""
