"""The multi-label protocol (``task=multilabel``): thresholds, clean evaluation, attack cells."""
