"""Stage 3, generation: the NumPy step engine, samplers, continuous batching."""
