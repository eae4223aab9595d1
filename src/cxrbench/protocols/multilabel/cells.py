"""Multi-label attack cells: one PGD run per (source, ε, loss), evaluated at every budget and on every target.

A *unit* is one run of :class:`~cxrbench.attacks.multilabel.MultiLabelPGD` on one source model: the
untargeted run at one ε away from one reference (its iterates at every step budget of the grid),
or the risk-targeted run with one loss. Each (budget, target) it is evaluated at is a *cell*: a record under
``records/multilabel/`` plus the per-image adversarial probabilities it rests on
(``multilabel/<cell>.parquet``). A unit whose cells are all on disk is skipped, so an interrupted
walk resumes at the first unfinished run; the file layout of cells lives here alone.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import foolbox as fb
import numpy as np
import pandas as pd
import torch

from cxrbench.attacks.multilabel import (MultiLabelMisclassification, MultiLabelPGD, MultiLabelTarget,
                                         untargeted_reference)
from cxrbench.data.cooccurrence import cooccurrence, inverse_cooccurrence, risk, risk_targets
from cxrbench.data.datasets import SubsetView
from cxrbench.errors import DataError
from cxrbench.evaluation.multilabel import frequency_prior
from cxrbench.evaluation.predict import label_probabilities
from cxrbench.io import atomic_write
from cxrbench.kit.multilabel_clean import (LABELS, PROBS, prior_metrics, robust_scores, stored_predictions, summarize,
                                           thresholds_of)
from cxrbench.kit.pipeline import Variant, record_base
from cxrbench.kit.subsets import digest, image_set, test_subset
from cxrbench.records.schema import MultiLabelRecord
from cxrbench.records.store import finished_record, write_record

#: ``keep`` in a truth-referenced cell's params: which iterate per image the cell evaluates.
KEEP = "latest-no-better-than-kept-at-every-k"


@dataclass
class Model:
    """A trained multi-label variant with what every cell of it needs: its clean outputs and thresholds."""

    cfg: object
    variant: Variant
    view: SubsetView
    clean: np.ndarray        # clean probabilities of the attacked images
    labels: np.ndarray       # their ground truth
    thresholds: np.ndarray
    clean_metrics: dict      # :func:`summarize` of the clean outputs (every cell on this target repeats them)
    prior: dict              # :func:`prior_metrics` on these images (the target's training-split frequencies)

    @property
    def name(self) -> str:
        return self.variant.model.identity.model


def prepare_model(cfg, variant: Variant, paths, runtime, images: int | None) -> Model:
    """Select the attacked test images (a seeded stratified prefix) and compute their clean outputs.

    The clean outputs come from one forward pass over exactly the attacked batch, as the attack's
    own clean reference and the adversarials' outputs do: the stored predictions (other batches,
    maybe other thread counts) can differ in the last bits and reorder near-tied findings, which
    would let a truth-referenced cell score above its clean figure.
    """
    table = stored_predictions(variant, paths, runtime, cfg.train.eval_batch_size)
    view = test_subset(variant, images, cfg.seed, setting="multilabel.images")
    test = table[table["split"] == "test"].set_index("image_id").loc[view.ids]
    x, _ = view.batch(np.arange(len(view)))
    clean = label_probabilities(variant.model, x.to(runtime.device))
    labels, thresholds = test[LABELS].to_numpy(), thresholds_of(table)
    prior = prior_metrics(frequency_prior(variant.data.train.labels), labels)
    return Model(cfg, variant, view, clean, labels, thresholds, summarize(clean, labels, thresholds), prior)


def cell_paths(paths, source: Model, target: Model, evaluation: str, loss: str, steps: int,
               params: dict) -> tuple[str, Path, Path]:
    """The cell key, record file and per-image table of one (unit, budget, target).

    ``params`` holds the attack's whole configuration (loss, reference, k of ``topk``), so a cell
    computed under another reference or loss has another key and file: cells of the old default
    (away from the clean prediction, no ``reference`` in its params) are never read as ``truth``.
    """
    cell = digest({"evaluation": evaluation, "params": params, "steps": steps, "images": image_set(target.view)})
    name = (f"{evaluation}-{loss}-{source.variant.name}-to-{target.variant.name}-"
            f"{digest({'c': cell, 's': source.variant.key, 't': target.variant.key})}")
    return cell, paths.records / "multilabel" / f"{name}.json", paths.results / "multilabel" / f"{name}.parquet"


def _cell(paths, source: Model, target: Model, evaluation: str, loss: str, epsilon: float, steps: int,
          params: dict, adv: torch.Tensor, runtime, wall: float, risk_rows: np.ndarray | None) -> dict:
    """Evaluate adversarials of ``source`` on ``target``: the record and its per-image table."""
    if list(target.view.ids) != list(source.view.ids):
        raise DataError(f"{source.variant.name} and {target.variant.name} attacked different test images; "
                        "every model of multilabel.models must use the same data and split")
    probs = label_probabilities(target.variant.model, adv.to(runtime.device))
    metrics = summarize(probs, target.labels, target.thresholds, clean=target.clean, target=risk_rows)
    clean = target.clean_metrics
    risk_value = float(risk(probs, risk_rows).mean()) if risk_rows is not None else float("nan")
    clean_risk = float(risk(target.clean, risk_rows).mean()) if risk_rows is not None else float("nan")
    images = image_set(target.view)
    cell, record_path, table_path = cell_paths(paths, source, target, evaluation, loss, steps, params)
    table = pd.DataFrame(probs, columns=PROBS)
    table.insert(0, "image_id", list(target.view.ids))
    atomic_write(table_path, lambda tmp: table.to_parquet(tmp, index=False))
    n = len(target.view)
    # ``accuracy`` (MLACC vs the findings) and ``auc`` are over all n images, as ``images`` says.
    base = record_base(target.cfg, target.variant, runtime,
                       {**metrics, "n": n, "n_positive": int((target.labels == 1).any(1).sum()), "auc": metrics["macro_auc"]},
                       wall=wall, per_sample=table_path.relative_to(paths.results))
    record = MultiLabelRecord(
        **base, evaluation=evaluation, reference=params.get("reference", ""), source=source.name,
        source_key=source.variant.key, loss=loss, epsilon=epsilon, steps=steps,
        attack_params={**params, "attack": MultiLabelPGD.__name__, "steps": steps}, image_set=images, cell_key=cell,
        k_accuracy=metrics["k_accuracy"], images_with_finding=metrics["images_with_finding"],
        k_accuracy_paper=metrics["k_accuracy_paper"], k_consistency=metrics["k_consistency"],
        macro_auc=metrics["macro_auc"], mse=metrics["mse"], bce=metrics["bce"], mlacc=metrics["mlacc"],
        ordinal=metrics["ordinal"], risk=risk_value,
        clean={"accuracy": clean["accuracy"], "k_accuracy": clean["k_accuracy"],
               "k_accuracy_paper": clean["k_accuracy_paper"], "macro_auc": clean["macro_auc"],
               "mlacc": clean["mlacc"], "risk": clean_risk, "images_with_finding": clean["images_with_finding"]},
        prior=target.prior, thresholds=target.thresholds.tolist())
    return write_record(record_path, record, paths.root)


def run_unit(paths, runtime, source: Model, targets: list[Model], *, evaluation: str, loss: str, epsilon: float,
             budgets: dict[int, list[Model]], rel_stepsize: float, reference: str = "truth", k: int = 3,
             log=print) -> tuple[list[dict], bool]:
    """One PGD run on ``source``; ``budgets`` maps each step budget to the targets evaluated at it.

    ``reference`` (``truth`` | ``prediction``) is what the untargeted run moves away from, ``k`` the k
    of the ``topk`` loss; the risk run ignores both. Returns the records and whether the run was
    computed (False: every cell was on disk).
    """
    wall = time.perf_counter()
    attack = MultiLabelPGD(loss=loss, steps=max(budgets), rel_stepsize=rel_stepsize, k=k)
    # Away from the truth, the attack serves the k-robust accuracy: hand back per image the iterate that
    # scores no higher than the clean image at any reported k (``run_steps``' ``keep``).
    kept = evaluation == "untargeted" and reference == "truth"
    # The run's own length is no part of a cell: the iterate after k steps is the same in any longer run.
    params = {"loss": loss, "rel_stepsize": rel_stepsize, "random_start": attack.random_start, "epsilon": epsilon,
              "seed": source.cfg.seed, **({"reference": reference} if evaluation == "untargeted" else {}),
              **({"k": k} if loss == "topk" else {}), **({"keep": KEEP} if kept else {})}
    # A record from before Definition 1 and the prior were computed is redone (same key, fuller record).
    done = [r if r is not None and "k_accuracy_paper" in r else None
            for r in (finished_record(*cell_paths(paths, source, t, evaluation, loss, steps, params)[1:])
                      for steps, evaluated in budgets.items() for t in evaluated)]
    if all(done):
        return done, False
    x, _ = source.view.batch(np.arange(len(source.view)))
    fmodel = fb.PyTorchModel(source.variant.model.eval(), bounds=(0.0, 1.0), device=runtime.device)
    risk_rows = None
    if evaluation == "risk":
        # C is counted on the source's training split only, never on the attacked images.
        inverse = inverse_cooccurrence(cooccurrence(source.variant.data.train.labels))
        _, risk_rows = risk_targets(source.clean, inverse)
        criterion = MultiLabelTarget(torch.from_numpy(risk_rows), torch.from_numpy(source.thresholds))
    else:
        vectors = untargeted_reference(reference, truth=source.labels, clean_probs=source.clean,
                                       thresholds=source.thresholds)
        criterion = MultiLabelMisclassification(torch.from_numpy(vectors), torch.from_numpy(source.thresholds))
    torch.manual_seed(source.cfg.seed)
    snapshots = attack.run_steps(fmodel, x.to(runtime.device), criterion, epsilon=epsilon, steps=list(budgets),
                                 keep=robust_scores(source.labels) if kept else None)
    records = []
    for steps, evaluated in budgets.items():
        for target in evaluated:
            records.append(_cell(paths, source, target, evaluation, loss, epsilon, steps, params,
                                 snapshots[steps], runtime, wall, risk_rows if target is source else None))
    away = f", away from the {reference}" if evaluation == "untargeted" else ""
    log(f"{evaluation} PGD ({loss}{away}) on {source.variant.name} at eps {epsilon * 255:g}/255: "
        f"{len(records)} cells in {time.perf_counter() - wall:.0f} s")
    return records, True
