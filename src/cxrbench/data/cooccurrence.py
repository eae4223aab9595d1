"""Label co-occurrence of ChestX-ray14 and the risk weights of Ghamizi et al. (2022), section 6.

``counts[i, j]`` is the number of images that carry both finding ``i`` and finding ``j``; its diagonal
the number that carry ``i``. It is counted on the training split only (the attacked test images must
not shape the attack's target). An image without a finding ("No Finding") adds nothing.

Ghamizi et al. call C the "normalised inverse co-occurrence matrix" (high = the two labels almost
never occur together) without giving its formula. We use, for ``j != i``::

    C[i, j] = 1 - counts[i, j] / max_{k != i} counts[i, k]        C[i, i] = 0

so each row is in ``[0, 1]``: 1 for a finding never seen with ``i``, 0 for ``i``'s most frequent
partner, and ``i`` itself is never a target of its own row. Row ``C(i)`` is the target vector of the
risk-targeted attack on an image whose clean top label is ``i``. Their ``RISK = M(x*) · C(ŷ*)`` is a
dot product that grows with the number of labels; :func:`risk` divides it by the row sum, giving the
C-weighted mean probability of the improbable findings, in ``[0, 1]``.
"""
from __future__ import annotations

import numpy as np

from cxrbench.errors import DataError


def cooccurrence(labels: np.ndarray) -> np.ndarray:
    """Pair counts of a multi-hot label matrix ``(images, labels)``; symmetric, marginals on the diagonal.

    A -1 (not labelled by the dataset, :mod:`cxrbench.data.harmonise`) counts as absent: only findings
    seen together are counted, so a label a dataset lacks has an all-zero row (every finding is then
    equally improbable next to it).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.isin(labels, (0, 1, -1)).all():
        raise DataError(f"co-occurrence needs a 0/1 label matrix (images x labels, -1 for not labelled), got shape {labels.shape}")
    hot = (labels == 1).astype(np.int64)
    return hot.T @ hot


def inverse_cooccurrence(counts: np.ndarray) -> np.ndarray:
    """The normalised inverse C of a count matrix (see the module docstring); rows in ``[0, 1]``."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or not np.allclose(counts, counts.T):
        raise DataError(f"co-occurrence counts must be a symmetric square matrix, got shape {counts.shape}")
    off = counts.copy()
    np.fill_diagonal(off, -np.inf)
    most = off.max(axis=1, keepdims=True)
    # A finding seen with no other one: every other finding is equally improbable with it.
    inverse = np.where(most > 0, 1.0 - counts / np.where(most > 0, most, 1.0), 1.0)
    np.fill_diagonal(inverse, 0.0)
    return inverse


def risk_targets(clean_probs: np.ndarray, inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image the clean top label ``ŷ*`` and the attack's target vector ``C(ŷ*)``."""
    top = np.asarray(clean_probs).argmax(axis=1)
    return top, np.asarray(inverse)[top]


def risk(adv_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per image ``M(x*) · C(ŷ*) / sum C(ŷ*)``: the C-weighted mean adversarial probability, in ``[0, 1]``."""
    targets = np.asarray(targets, dtype=np.float64)
    return (np.asarray(adv_probs) * targets).sum(axis=1) / np.maximum(targets.sum(axis=1), 1e-12)
