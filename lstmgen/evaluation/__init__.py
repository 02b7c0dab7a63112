"""Evaluation: a model's loss on any text, and how much of its samples is copied."""
