"""The fields every record kind shares (:mod:`cxrbench.records.schema` holds the kinds)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RecordBase:
    """Fields shared by every record.

    Attributes:
        seed: the run seed (model initialisation, batch order, attacked subset, attack randomness).
        config: the full resolved run configuration.
        data: the data source's description (source name and its parameters).
        split: ``{"name", "digest", "sizes"}`` of the train/val/test split.
        image_size: the experiment's image space in pixels (see ``TrainConfig.canonical_size``).
        model: the target model's registry name (``irv2``).
        pooling: the target's pooling variant (``max`` / ``avg``).
        model_identity: the target's full identity (architecture, input size, channels, classes).
        model_key: what determined the target's weights (checkpoint key or checkpoint file digest).
        training: how the target was trained or which checkpoint was loaded.
        images, n_positive: how many test images the numbers are over; how many of them have a finding.
        accuracy: accuracy over those images (finding iff P(finding) > 0.5, the argmax of the logits).
        auc: ROC-AUC of P(finding) over those images (NaN with one class).
        metrics: every summary number of the record (accuracy and auc included).
        per_sample: Parquet file of per-image predictions, relative to the results directory.
        device: where the numbers were computed (always in fp32).
        wall_seconds: wall time of the run up to this record.
        regime: ``standard``, or ``pgd-at`` (PGD adversarial training, settings in ``config.train.adversary``).
    """

    seed: int
    config: dict
    data: dict
    split: dict
    image_size: int
    model: str
    pooling: str
    model_identity: dict
    model_key: str
    training: dict
    images: int
    n_positive: int
    accuracy: float
    auc: float
    metrics: dict
    per_sample: str
    device: str
    wall_seconds: float
    regime: str = "standard"
