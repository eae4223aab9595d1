"""Multi-label robustness metrics of Ghamizi et al. (2022), each with the formula it computes.

Notation: per image, ``p`` the predicted probabilities of the M findings (``p_adv`` under attack,
``p_clean`` unattacked), ``z`` the logits, ``P`` the set of ground-truth findings, ``top_k(v)`` the
indices of the k largest entries of ``v`` (ties by label order).

* k-robust accuracy, two readings of their Definitions 1-2, each under its own name:

  - ``k_accuracy_paper`` (Definition 1 literally): ``|top_k(p) ∩ top_k(y)| / k`` averaged over
    *all* images, ``top_k(y)`` of the 0/1 ground truth with ties broken by label order (their
    formula names no tie rule; with fewer than k findings, or none, the rest of ``top_k(y)`` is
    the first absent labels in label order), so the figure can be set beside the published ones;
  - ``k_accuracy`` (ours): ``|top_k(p) ∩ P| / min(k, |P|)`` over the images with at least one
    finding: the findings themselves instead of a tie-filled top-k, divided by as many as there
    can be (a model ranking every finding first scores 1); images without a finding have no
    top-k ground truth and are left out (counted in the result).
* The no-information baseline (:func:`frequency_prior`): one constant ranking for every image,
  by the findings' frequency on the training split; a model below it ranks worse than the prior.
* Their code's variant (``k_consistency``): the clean top-1 label stays within the adversarial top-k.
* Per-label ROC-AUC over the images, and their macro mean over the labels where both classes occur.
* MSE and BCE of the adversarial against the clean output: ``mean_j (p_adv - p_clean)^2`` and
  ``-mean_j [p_clean log p_adv + (1 - p_clean) log(1 - p_adv)]``, averaged over images.
* Labels a dataset does not provide are -1 in ``truth`` (:mod:`cxrbench.data.harmonise`). ROC-AUC
  skips them per label (a label with no labelled image has no AUC); the k-robust accuracies, MLACC
  and the frequency prior read them as "not a present finding" (``truth == 1`` is the finding set),
  so an unlabelled finding a model ranks high costs it a place, as an absent one does. With no -1
  every metric is what it was.
* MLACC (Godbole & Sarawagi 2004): ``|Ŷ ∩ Y| / |Ŷ ∪ Y|`` of the thresholded prediction ``Ŷ`` and a
  reference set ``Y`` (ground truth, or an attack's target); 1 when both are empty.
* Ordinal loss: the order of the target values is what matters (their section 6, citing Frank &
  Hall 2001, who reduce an order to binary "ranks above" decisions). Over the label pairs the
  target ranks strictly apart, ``mean_{t_i > t_j} log(1 + exp(-(z_i - z_j)))``: near 0 when the
  logits keep the target's order, ``log 2`` when they tie.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from cxrbench.errors import DataError

_EPS = 1e-7


def present(truth: np.ndarray) -> np.ndarray:
    """The findings set of each image as booleans: 1 is present; 0 and -1 (not labelled) are not."""
    return np.asarray(truth) == 1


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores per row (ties broken by label order)."""
    return np.argsort(-np.asarray(scores), axis=1, kind="stable")[:, :k]


@dataclass(frozen=True)
class KAccuracy:
    """k-robust accuracy over the images with a finding, and how many had none (left out)."""

    value: float
    per_image: np.ndarray
    images: int
    without_finding: int


def k_accuracy(probs: np.ndarray, truth: np.ndarray, k: int) -> KAccuracy:
    """``mean_x |top_k(p) ∩ P| / min(k, |P|)`` over the images with at least one finding ``P``."""
    kept = present(truth).any(axis=1)
    per_image = k_scores(probs, truth, (k,))[kept, 0]
    value = float(per_image.mean()) if per_image.size else float("nan")
    return KAccuracy(value, per_image, int(kept.sum()), int((~kept).sum()))


def k_scores(probs: np.ndarray, truth: np.ndarray, ks: tuple[int, ...], *, paper: bool = False) -> np.ndarray:
    """Per image and k the score the k-robust accuracy averages, ``(images, len(ks))``.

    ``paper=False``: ``|top_k(p) ∩ P| / min(k, |P|)`` (0 for an image without finding, which
    :func:`k_accuracy` leaves out); ``paper=True``: Definition 1's ``|top_k(p) ∩ top_k(y)| / k``.
    """
    truth = present(truth)
    columns = []
    for k in ks:
        picked = top_k(probs, k)
        if paper:
            wanted = top_k(truth.astype(np.float64), k)
            columns.append((picked[:, :, None] == wanted[:, None, :]).any(axis=2).sum(axis=1) / k)
        else:
            hits = np.take_along_axis(truth, picked, axis=1).sum(axis=1)
            columns.append(hits / np.minimum(k, np.maximum(truth.sum(axis=1), 1)))
    return np.stack(columns, axis=1)


def k_accuracy_paper(probs: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Definition 1 read literally: ``mean_x |top_k(p) ∩ top_k(y)| / k`` over every image.

    ``top_k(y)`` breaks the ties of the 0/1 ground truth by label order (:func:`top_k`), so an
    image with fewer than k findings fills its top-k with the first absent labels.
    """
    scores = k_scores(probs, truth, (k,), paper=True)[:, 0]
    return float(scores.mean()) if len(scores) else float("nan")


def frequency_prior(train_labels: np.ndarray) -> np.ndarray:
    """Per label the share of training images that carry it: the constant no-information ranking.

    Ranked by :func:`top_k` (ties by label order), the same for every image and under any attack. A -1
    (not labelled) counts as not carrying it, as in the k-robust accuracies the prior is compared with.
    """
    labels = np.asarray(train_labels)
    if labels.ndim != 2 or not len(labels):
        raise DataError(f"the prior needs a non-empty (images x labels) training label matrix, got {labels.shape}")
    return present(labels).mean(axis=0)


def k_consistency(clean_probs: np.ndarray, adv_probs: np.ndarray, k: int) -> float:
    """Fraction of images whose clean top-1 label is within the adversarial top-k."""
    clean_top = np.asarray(clean_probs).argmax(axis=1)
    return float((top_k(adv_probs, k) == clean_top[:, None]).any(axis=1).mean())


def per_label_auc(probs: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """ROC-AUC of every label over its labelled images (NaN where they hold only one class, or none)."""
    truth, probs = np.asarray(truth), np.asarray(probs)
    out = np.full(truth.shape[1], np.nan)
    for j in range(truth.shape[1]):
        labelled = truth[:, j] >= 0
        positives = int((truth[labelled, j] == 1).sum())
        if 0 < positives < int(labelled.sum()):
            out[j] = roc_auc_score(truth[labelled, j], probs[labelled, j])
    return out


def macro_auc(probs: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-label ROC-AUC over the labels whose labelled images hold both classes."""
    aucs = per_label_auc(probs, truth)
    return float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")


def output_mse(adv_probs: np.ndarray, clean_probs: np.ndarray) -> float:
    """``mean_x mean_j (p_adv - p_clean)^2``."""
    return float(np.mean((np.asarray(adv_probs) - np.asarray(clean_probs)) ** 2))


def output_bce(adv_probs: np.ndarray, clean_probs: np.ndarray) -> float:
    """``-mean_x mean_j [p_clean log p_adv + (1 - p_clean) log(1 - p_adv)]``."""
    adv = np.clip(np.asarray(adv_probs, dtype=np.float64), _EPS, 1 - _EPS)
    clean = np.asarray(clean_probs, dtype=np.float64)
    return float(-np.mean(clean * np.log(adv) + (1 - clean) * np.log(1 - adv)))


def mlacc(predicted: np.ndarray, reference: np.ndarray) -> float:
    """``mean_x |Ŷ ∩ Y| / |Ŷ ∪ Y|`` of two 0/1 label matrices (1 where both sets are empty)."""
    predicted, reference = np.asarray(predicted).astype(bool), present(reference)
    inter, union = (predicted & reference).sum(axis=1), (predicted | reference).sum(axis=1)
    return float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))
