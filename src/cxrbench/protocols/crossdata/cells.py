"""One cross-dataset cell: a model trained on one dataset, evaluated clean and under white-box PGD on another.

The model is trained (or reused) on its dataset and keeps the per-label thresholds of that
dataset's validation split (its own, Youden's J). The test images are a seeded stratified prefix of
the test split of the test dataset, cached at the model's image size. Ranking, scores and the attack
see only the labels both datasets label (:mod:`cxrbench.protocols.crossdata.labels`): the model's
outputs are cut to those columns, so a finding the test data cannot confirm or deny never takes a
top-k place. The attack is the multi-label protocol's untargeted PGD away from the ground-truth
findings, handing back per image the latest iterate no better than the clean image at any reported
k (its ``keep``). A cell is a record under ``records/crossdata/`` and a per-image table under
``crossdata/``; a cell with both on disk is read back, never recomputed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import foolbox as fb
import numpy as np
import pandas as pd
import torch

from cxrbench.attacks.multilabel import MultiLabelMisclassification, MultiLabelPGD, untargeted_reference
from cxrbench.data import create_data_source
from cxrbench.data.build import build_data
from cxrbench.data.datasets import SubsetView
from cxrbench.evaluation.predict import label_probabilities
from cxrbench.io import atomic_write
from cxrbench.kit.multilabel_clean import robust_scores, stored_predictions, summarize, thresholds_of
from cxrbench.kit.pipeline import Variant, prepare_variant, record_base
from cxrbench.kit.subsets import digest, image_set, test_subset
from cxrbench.protocols.crossdata.labels import label_columns, shared_labels, source_labels
from cxrbench.records.schema_crossdata import CrossDataRecord
from cxrbench.records.store import finished_record, write_record

#: ``keep`` in the attack params: as the multi-label protocol's truth-referenced cells.
KEEP = "latest-no-better-than-kept-at-every-k"


@dataclass
class Trained:
    """A model trained on dataset ``name``, its thresholds (validation split, all 14) and what its data labels."""

    name: str
    cfg: object
    variant: Variant
    thresholds: np.ndarray
    labels: tuple[str, ...]


@dataclass
class TestImages:
    """The attacked test images of dataset ``name`` at a model's image size, and what that dataset labels.

    ``target`` is the trained variant carrying the test dataset's data, so the record describes the
    images evaluated (data, split) and the weights that were (training, model key).
    """

    name: str
    cfg: object
    target: Variant
    view: SubsetView
    labels: tuple[str, ...]


class LabelColumns(torch.nn.Module):
    """The logits of ``columns`` only: the outputs a cell ranks, scores and attacks."""

    def __init__(self, model: torch.nn.Module, columns: np.ndarray):
        super().__init__()
        self.model = model
        self.register_buffer("columns", torch.as_tensor(columns, dtype=torch.long), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).index_select(1, self.columns.to(x.device))


def prepare_trained(name: str, cfg, paths, runtime, log=print) -> Trained:
    """Train or reuse ``cfg``'s model on dataset ``name``; its validation thresholds and its labels."""
    variant = prepare_variant(cfg, paths, runtime, log)
    thresholds = thresholds_of(stored_predictions(variant, paths, runtime, cfg.train.eval_batch_size))
    return Trained(name, cfg, variant, thresholds, source_labels(create_data_source(cfg.data, paths.root)))


def prepare_test(name: str, cfg, trained: Trained, paths, images: int | None) -> TestImages:
    """The test split of ``cfg``'s data cached at ``trained``'s image size, and its attacked prefix."""
    source = create_data_source(cfg.data, paths.root)
    if hasattr(source, "check_root"):
        source.check_root()
    data = build_data(source, trained.cfg.train.canonical_size, paths.cache, progress=cfg.progress,
                      subsets=("test",))
    target = replace(trained.variant, data=data, split_digest=data.split.digest())
    view = test_subset(target, images, cfg.seed, setting="crossdata.images")
    return TestImages(name, cfg, target, view, source_labels(source))


def cell_paths(paths, trained: Trained, test: TestImages, params: dict) -> tuple[str, Path, Path]:
    """The cell key, record file and per-image table of (trained, test) under ``params``."""
    cell = digest({"params": params, "images": image_set(test.view), "model": trained.variant.key,
                   "train": trained.variant.data.description, "test": test.target.data.description})
    name = f"{trained.variant.name}-{trained.name}-to-{test.name}-{cell}"
    return cell, paths.records / "crossdata" / f"{name}.json", paths.results / "crossdata" / f"{name}.parquet"


def _attack(head: LabelColumns, x: torch.Tensor, truth: np.ndarray, clean: np.ndarray, thresholds: np.ndarray,
            settings, epsilon: float, runtime) -> torch.Tensor:
    """White-box untargeted PGD away from the findings; per image never better than clean at any k."""
    fmodel = fb.PyTorchModel(head.eval(), bounds=(0.0, 1.0), device=runtime.device)
    reference = untargeted_reference("truth", truth=truth, clean_probs=clean, thresholds=thresholds)
    criterion = MultiLabelMisclassification(torch.from_numpy(reference), torch.from_numpy(thresholds))
    attack = MultiLabelPGD(loss=settings.loss, steps=settings.steps, rel_stepsize=settings.rel_stepsize)
    return attack.run_steps(fmodel, x, criterion, epsilon=epsilon, steps=[settings.steps],
                            keep=robust_scores(truth))[settings.steps]


def _figures(metrics: dict) -> dict:
    return {key: metrics[key] for key in ("accuracy", "k_accuracy", "k_accuracy_paper", "macro_auc", "mlacc",
                                          "images_with_finding", "per_label_auc")}


def run_cell(paths, runtime, trained: Trained, test: TestImages, settings) -> tuple[dict, bool]:
    """The record of (trained, test), and whether it was computed (False: read back from disk)."""
    wall = time.perf_counter()
    shared = shared_labels(trained.labels, test.labels)
    epsilon = settings.epsilon / 255
    params = {"attack": MultiLabelPGD.__name__, "loss": settings.loss, "rel_stepsize": settings.rel_stepsize,
              "random_start": False, "epsilon": epsilon, "steps": settings.steps, "seed": test.cfg.seed,
              "reference": "truth", "keep": KEEP, "labels": list(shared)}
    cell, record_path, table_path = cell_paths(paths, trained, test, params)
    done = finished_record(record_path, table_path)
    if done is not None:
        return done, False
    columns = label_columns(shared)
    head = LabelColumns(trained.variant.model, columns)
    thresholds = trained.thresholds[columns]
    truth = test.view.labels[:, columns]
    x, _ = test.view.batch(np.arange(len(test.view)))
    x = x.to(runtime.device)
    clean = label_probabilities(head, x)
    torch.manual_seed(test.cfg.seed)
    adv = label_probabilities(head, _attack(head, x, truth, clean, thresholds, settings, epsilon, runtime))
    attacked = summarize(adv, truth, thresholds, clean=clean, names=shared)
    unattacked = summarize(clean, truth, thresholds, names=shared)
    table = pd.DataFrame({"image_id": list(test.view.ids),
                          **{f"y_{n}": truth[:, j].astype(int) for j, n in enumerate(shared)},
                          **{f"clean_{n}": clean[:, j] for j, n in enumerate(shared)},
                          **{f"p_{n}": adv[:, j] for j, n in enumerate(shared)}})
    atomic_write(table_path, lambda tmp: table.to_parquet(tmp, index=False))
    n = len(test.view)
    base = record_base(test.cfg, test.target, runtime,
                       {**attacked, "n": n, "n_positive": int((truth == 1).any(1).sum()), "auc": attacked["macro_auc"]},
                       wall=wall, per_sample=table_path.relative_to(paths.results))
    record = CrossDataRecord(
        **base, train_on=trained.name, test_on=test.name, train_data=trained.variant.data.description,
        shared_labels=list(shared), n_shared=len(shared), train_labels=list(trained.labels),
        test_labels=list(test.labels), loss=settings.loss, epsilon=epsilon, steps=settings.steps,
        attack_params=params, image_set=image_set(test.view), cell_key=cell, k_accuracy=attacked["k_accuracy"],
        images_with_finding=attacked["images_with_finding"], k_accuracy_paper=attacked["k_accuracy_paper"],
        k_consistency=attacked["k_consistency"], macro_auc=attacked["macro_auc"], mlacc=attacked["mlacc"],
        clean=_figures(unattacked), thresholds=thresholds.tolist())
    return write_record(record_path, record, paths.root), True
