"""Evaluation: predictions and metrics."""
