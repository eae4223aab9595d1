"""Training: optimisers, schedules, the loop, checkpoints and their cache."""
