"""The clean baseline: test accuracy and ROC-AUC of every model of the grid, with bootstrap intervals."""
