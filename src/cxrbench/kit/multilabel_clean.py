"""Clean multi-label evaluation: per-label thresholds from the validation split, metrics, one record.

Per-label thresholds maximise Youden's J (TPR - FPR) on the validation split's ROC curve of that
label (0.5 for a label the split holds one class of); they turn probabilities into label sets for
MLACC and for the attacks' success criteria. The validation and test predictions of a variant are
stored once (``results/predictions/multilabel/<variant>-<key>.parquet``) and read by every cell.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_curve

from cxrbench.data.labels import NIH_LABELS
from cxrbench.attacks.multilabel import ordinal_loss
from cxrbench.evaluation.multilabel import (frequency_prior, k_accuracy, k_accuracy_paper, k_consistency, k_scores,
                                            macro_auc, mlacc, output_bce, output_mse, per_label_auc)
from cxrbench.evaluation.predict import predict_label_proba
from cxrbench.io import atomic_write, read_table
from cxrbench.kit.pipeline import record_base
from cxrbench.records.schema import MultiLabelRecord
from cxrbench.records.store import write_record

#: The k of the k-robust accuracies reported (Ghamizi et al.'s tables).
KS = (1, 3)
PROBS = [f"p_{name}" for name in NIH_LABELS]
LABELS = [f"y_{name}" for name in NIH_LABELS]


def youden_thresholds(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per label the probability threshold with the largest TPR - FPR (0.5 where one class only).

    Only the images that label is labelled for count (-1: not labelled by the dataset).
    """
    out = np.full(labels.shape[1], 0.5)
    for j in range(labels.shape[1]):
        seen = labels[:, j] >= 0
        if 0 < (labels[seen, j] == 1).sum() < seen.sum():
            fpr, tpr, cuts = roc_curve(labels[seen, j], probs[seen, j])
            best = int(np.argmax((tpr - fpr)[1:])) + 1  # the first cut is +inf: nothing predicted
            out[j] = float(cuts[best])
    return out


def predictions_path(variant) -> Path:
    """Where ``variant``'s validation and test probabilities live, relative to the results directory."""
    return Path("predictions") / "multilabel" / f"{variant.name}-{variant.key}.parquet"


def stored_predictions(variant, paths, runtime, batch_size: int) -> pd.DataFrame:
    """``split`` (val/test), ``image_id``, ``y_<label>`` and ``p_<label>`` of every val and test image."""
    stored = paths.results / predictions_path(variant)
    if stored.exists():
        return read_table(stored, "multi-label predictions", "delete it: the next run recomputes it")
    parts = []
    for split in ("val", "test"):
        data = getattr(variant.data, split)
        probs = predict_label_proba(variant.model, data, runtime, batch_size)
        part = pd.DataFrame(np.concatenate([data.labels, probs], axis=1), columns=LABELS + PROBS)
        part.insert(0, "image_id", list(data.ids))
        part.insert(0, "split", split)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True).astype({c: int for c in LABELS})
    atomic_write(stored, lambda tmp: table.to_parquet(tmp, index=False))
    return table


def thresholds_of(table: pd.DataFrame) -> np.ndarray:
    """The per-label thresholds of a stored prediction table (from its validation rows)."""
    val = table[table["split"] == "val"]
    return youden_thresholds(val[PROBS].to_numpy(), val[LABELS].to_numpy())


def _logit(p: np.ndarray) -> torch.Tensor:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return torch.from_numpy(np.log(p / (1 - p)))


def robust_scores(truth: np.ndarray):
    """The per-image scores a truth-referenced run must not raise: k-robust at every k of :data:`KS`, both readings.

    Returns a function of a batch of logits, for :meth:`~cxrbench.attacks.multilabel.MultiLabelPGD.run_steps`'s
    ``keep``: the attack then never hands back an image scoring higher than its clean self.
    """
    def scores(logits: torch.Tensor) -> torch.Tensor:
        # float64 as label_probabilities computes the figures: float32 sigmoid saturates at 1.0, so two
        # findings tied here could be ordered there, and a rise the scores do not see would reach a record.
        probs = torch.sigmoid(logits.detach().float().to("cpu", torch.float64)).numpy()
        both = np.concatenate([k_scores(probs, truth, KS), k_scores(probs, truth, KS, paper=True)], axis=1)
        return torch.from_numpy(both).to(logits.device)

    return scores


def summarize(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray, *,
              clean: np.ndarray | None = None, target: np.ndarray | None = None,
              names: tuple[str, ...] = NIH_LABELS) -> dict:
    """Every metric of :class:`~cxrbench.records.schema.MultiLabelRecord` for ``probs`` (``accuracy`` included).

    ``clean``: the same images' clean probabilities (MSE, BCE, ordinal loss and the code variant of
    k-accuracy are against them); ``target``: an attack's target vectors (MLACC and the ordinal loss
    are then against the target instead of the ground truth / clean output); ``names``: the labels of
    the columns (a subset of the 14 when only some are scored, as across datasets).
    """
    predicted = probs >= thresholds
    reference = clean if target is None else target
    k = {str(k): k_accuracy(probs, labels, k) for k in KS}
    findings_mlacc = mlacc(predicted, labels)
    # ``accuracy``: MLACC against the findings over every image, the record's ``images`` (with one
    # label it is the binary accuracy); the k-robust figures keep their own fields and their own n.
    out = {"accuracy": findings_mlacc, "k_accuracy": {n: v.value for n, v in k.items()},
           "images_with_finding": k["1"].images,
           "k_accuracy_paper": {str(k): k_accuracy_paper(probs, labels, k) for k in KS},
           "macro_auc": macro_auc(probs, labels),
           "per_label_auc": dict(zip(names, per_label_auc(probs, labels).tolist(), strict=True)),
           "mlacc": findings_mlacc if target is None else mlacc(predicted, target >= 0.5),
           "k_consistency": {}, "mse": float("nan"), "bce": float("nan"), "ordinal": float("nan")}
    if clean is not None:
        out.update(k_consistency={str(k): k_consistency(clean, probs, k) for k in KS},
                   mse=output_mse(probs, clean), bce=output_bce(probs, clean))
    if reference is not None:
        out["ordinal"] = float(ordinal_loss(_logit(probs), torch.tensor(np.asarray(reference, dtype=np.float64))).mean())
    return out


def prior_metrics(frequency: np.ndarray, labels: np.ndarray) -> dict:
    """The no-information baseline on ``labels``: one constant ranking by training-split frequency.

    Args:
        frequency: per label the share of training images with it (:func:`frequency_prior`).
        labels: the evaluated images' findings, 0/1.

    Returns:
        ``frequency`` (label -> share), ``ranking`` (labels, most frequent first) and the k-robust
        accuracies (both readings) and macro AUC of the constant ranking; an attack cannot move
        them, so they are the floor a model that learnt nothing from the image would reach.
    """
    scores = np.tile(np.asarray(frequency, dtype=np.float64), (len(labels), 1))
    order = np.argsort(-np.asarray(frequency), kind="stable")
    return {"frequency": dict(zip(NIH_LABELS, np.asarray(frequency, dtype=float).tolist())),
            "ranking": [NIH_LABELS[j] for j in order],
            "k_accuracy": {str(k): k_accuracy(scores, labels, k).value for k in KS},
            "k_accuracy_paper": {str(k): k_accuracy_paper(scores, labels, k) for k in KS},
            "macro_auc": macro_auc(scores, labels)}


def evaluate_clean_multilabel(cfg, variant, paths, runtime, *, wall: float, log=print) -> dict:
    """The clean test metrics of a multi-label ``variant``: a record under ``records/multilabel/``."""
    table = stored_predictions(variant, paths, runtime, cfg.train.eval_batch_size)
    thresholds = thresholds_of(table)
    test = table[table["split"] == "test"]
    probs, labels = test[PROBS].to_numpy(), test[LABELS].to_numpy()
    metrics = {**summarize(probs, labels, thresholds), "n": len(test), "n_positive": int((labels == 1).any(1).sum())}
    base = record_base(cfg, variant, runtime, {**metrics, "auc": metrics["macro_auc"]},
                       wall=wall, per_sample=predictions_path(variant))
    record = MultiLabelRecord(**base, evaluation="clean", source=variant.model.identity.model,
                              source_key=variant.key, k_accuracy=metrics["k_accuracy"],
                              images_with_finding=metrics["images_with_finding"],
                              k_accuracy_paper=metrics["k_accuracy_paper"], macro_auc=metrics["macro_auc"],
                              mlacc=metrics["mlacc"], thresholds=thresholds.tolist(),
                              prior=prior_metrics(frequency_prior(variant.data.train.labels), labels))
    document = write_record(paths.records / "multilabel" / f"clean-{variant.name}-{variant.key}.json", record,
                            paths.root)
    log(f"clean test {variant.name} (14 labels): macro AUC {metrics['macro_auc']:.3f}, 1-robust accuracy "
        f"{metrics['k_accuracy']['1']:.3f}, 3-robust accuracy {metrics['k_accuracy']['3']:.3f}, MLACC "
        f"{metrics['mlacc']:.3f} (n={len(test)}, {metrics['images_with_finding']} with a finding)")
    return document
