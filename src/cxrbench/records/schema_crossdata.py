"""The record of one cross-dataset cell: a model trained on one dataset, tested on another (Ghamizi et al. 2022, Table 3).

The :class:`~cxrbench.records.record_base.RecordBase` fields describe the *evaluated* images and the
model: ``data`` and ``split`` are the test dataset's, ``training`` and ``model_key`` the weights learnt
on the training dataset (its data in ``train_data``); ``config`` is the test side's run config.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cxrbench.records.record_base import RecordBase


@dataclass
class CrossDataRecord(RecordBase):
    """Clean and white-box attacked figures of one (trained on, tested on) cell, over the shared labels only.

    ``accuracy`` (MLACC vs the findings) and ``auc`` (macro ROC-AUC) are the attacked figures over all
    ``images``; ``n_positive``: the images with a finding among the shared labels. Not applicable: NaN.

    Attributes:
        train_on, test_on: the ``crossdata.datasets`` names the model was trained on and the images come from.
        train_data: the training dataset's description (``data`` is the test dataset's).
        shared_labels: the labels both datasets label, in ChestX-ray14 order: the only columns scored
            (``n_shared`` of them); ``train_labels``, ``test_labels``: what each dataset labels.
        loss, epsilon, steps, attack_params: the white-box untargeted PGD (ε in [0, 1] pixels; the params
            name everything it depends on and are in the cell key); ``image_set``, ``cell_key``: the
            evaluated images and the cell's configuration digest.
        k_accuracy: k -> ``|top_k(p) ∩ P| / min(k, |P|)`` over the ``images_with_finding`` images
            (ranking and findings restricted to the shared labels).
        k_accuracy_paper: k -> Definition 1 literally over all ``images``; ``k_consistency``: k -> the
            clean top-1 label within the adversarial top-k.
        macro_auc, mlacc: over the shared labels, under attack.
        clean: the same figures of the same images unattacked.
        thresholds: per shared label, from the validation split of the training dataset (Youden's J).
    """

    train_on: str = ""
    test_on: str = ""
    train_data: dict = field(default_factory=dict)
    shared_labels: list = field(default_factory=list)
    n_shared: int = 0
    train_labels: list = field(default_factory=list)
    test_labels: list = field(default_factory=list)
    loss: str = ""
    epsilon: float = 0.0
    steps: int = 0
    attack_params: dict = field(default_factory=dict)
    image_set: dict = field(default_factory=dict)
    cell_key: str = ""
    k_accuracy: dict = field(default_factory=dict)
    images_with_finding: int = 0
    k_accuracy_paper: dict = field(default_factory=dict)
    k_consistency: dict = field(default_factory=dict)
    macro_auc: float = float("nan")
    mlacc: float = float("nan")
    clean: dict = field(default_factory=dict)
    thresholds: list = field(default_factory=list)
    kind: str = "crossdata"
