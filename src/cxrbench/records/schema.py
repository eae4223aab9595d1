"""Typed schemas of the record kinds: one meaning per field, documented in ``results/README.md``.

Every run writes JSON records (RobustBench-style: tables and figures are rendered from them
alone). A record is built from one of these dataclasses, so a field cannot be misspelt or change
its type between writers; :func:`check_record` refuses a record that lacks a field of its kind
before a report reads it.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from cxrbench.errors import DataError
from cxrbench.records.manifest import manifest
from cxrbench.records.record_base import RecordBase
from cxrbench.records.schema_added import ADDED, upgrade_multilabel
from cxrbench.records.schema_crossdata import CrossDataRecord

#: Version 2: typed fields; ``model`` is always the registry name (identity in ``model_identity``);
#: attack records carry the clean figures of their own images and the cell's full configuration.
#: Version 3: ``regime`` (standard or adversarial training) and the ``robust`` kind.
RECORD_SCHEMA_VERSION = 3
#: Older versions this one reads, and the fields it fills in for them (what they implied).
_UPGRADES = {2: {"regime": "standard"}}  # version 2 predates adversarial training


@dataclass
class CleanRecord(RecordBase):
    """Clean test accuracy and ROC-AUC of one trained variant, over the whole test split."""

    kind: str = "clean"


@dataclass
class AttackRecord(RecordBase):
    """One attack cell: a crafted set evaluated on one target.

    Attributes:
        setting: ``white-box`` (crafted on the target) or ``black-box`` (crafted on another model).
        source: registry name of the model the set was crafted on.
        source_key: what determined the source's weights.
        attack: registered attack name; ``attack_id``, ``attack_title``, ``family``: its registry facts.
        profile: the attack profile used (``paper`` / ``quick``).
        attack_params: the attack's resolved keyword arguments.
        deviations: parameters whose value makes a weaker attack than the paper's (not merely a
            cheaper or coarser one), as ``{name: {"paper": value, "used": value}}``.
        comparable_with_paper: no such deviation (the cell may be compared with the published one).
        image_set: ``{"n", "n_positive", "digest"}`` of the attacked test images (digest of their ids).
        cell_key: digest of (attack, resolved parameters, image set): two records of one table
            cell with different cell keys measured different things.
        clean_accuracy: the target's clean accuracy on the same images.
        clean_auc: the target's clean ROC-AUC on the same images.
        success_rate: fooled / correctly classified clean, over the same images.
        crafted: the crafted set's folder, relative to the results directory.
        crafted_reused: this run found the set finished on disk.
        crafted_by: provenance of the run that crafted the set (created, git SHA, seed, seconds).
        crafting_seconds: summed per-image crafting time.
    """

    setting: str = ""
    source: str = ""
    source_key: str = ""
    attack: str = ""
    attack_id: str = ""
    attack_title: str = ""
    family: str = ""
    profile: str = ""
    attack_params: dict = field(default_factory=dict)
    deviations: dict = field(default_factory=dict)
    comparable_with_paper: bool = True
    image_set: dict = field(default_factory=dict)
    cell_key: str = ""
    clean_accuracy: float = float("nan")
    clean_auc: float = float("nan")
    success_rate: float = float("nan")
    crafted: str = ""
    crafted_reused: bool = False
    crafted_by: dict = field(default_factory=dict)
    crafting_seconds: float = 0.0
    kind: str = "attack"


@dataclass
class RobustRecord(RecordBase):
    """Accuracy under one attack at one fixed L∞ budget (ε, iterations) over a set of test images.

    An image counts as broken at ε when the run at ε, or a run of the same attack at a smaller ε
    of the same ladder, found an adversarial (that adversarial lies in the ε-ball too), so
    accuracy never rises with ε; ``accuracy`` and ``worst_case_auc`` are over the worst-case images
    (the breaking adversarial, else the clean image); ``auc`` is NaN (older records: the same number).

    Attributes:
        attack: registered attack name; ``attack_title``: its name in tables; ``attack_params``: the
            fixed-budget attack's keyword arguments (budget included).
        epsilon: L∞ radius in [0, 1] pixel units (``epsilon_label``: as ``2/255``); ``iterations``: the
            step budget of one run; ``ladder``: every ε of the ladder up to this one.
        image_set: ``{"n", "n_positive", "digest"}`` of the images; ``cell_key``: the cell's digest.
        clean_accuracy: clean accuracy on the same images (``clean_auc`` likewise); ``success_rate``:
            broken / correctly classified clean.
        attacked: images this ε's run attacked (correct, unbroken below); ``broken_here``: how many it broke.
        gradients: gradient passes of this ε's run, over all images; ``attack_seconds``: its wall time.
        worst_case_auc: ROC-AUC of the worst case found (adversarial P(finding) where broken, else clean).
    """

    attack: str = ""
    attack_title: str = ""
    attack_params: dict = field(default_factory=dict)
    epsilon: float = float("nan")
    epsilon_label: str = ""
    iterations: int = 0
    ladder: list = field(default_factory=list)
    image_set: dict = field(default_factory=dict)
    cell_key: str = ""
    clean_accuracy: float = float("nan")
    clean_auc: float = float("nan")
    success_rate: float = float("nan")
    attacked: int = 0
    broken_here: int = 0
    gradients: int = 0
    attack_seconds: float = 0.0
    worst_case_auc: float = float("nan")
    kind: str = "robust"


@dataclass
class StudyRecord(RecordBase):
    """One cell of ``study`` (budget, confidence, train_size, resolution; ``experiment=study_<name>``).

    ``measure``: ``fixed``, one run of ``attack`` at ε for ``iterations`` steps storing each image's
    first fooling step (every smaller budget is read off it), or ``minimal``, the attack's minimal-ε
    search (its crafted set), whose per-image sizes give success against any ε. ``accuracy`` and
    ``worst_case_auc`` are over the worst case found, as in :class:`RobustRecord`; ``auc`` is NaN.

    Attributes:
        axis: the train option the study varies (``train_size``, ``input_size``) or None;
            ``axis_value``: its value for this variant (the training-split size when none is varied).
        attack: registered attack name (``attack_id``, ``attack_title``: its registry facts);
            ``attack_params``: its keyword arguments (for ``fixed``: of one run, budget included).
        epsilon: L∞ radius in [0, 1] pixel units (``fixed``; NaN for ``minimal``); ``epsilon_label``.
        iterations: steps of the ``fixed`` run (every smaller budget is read off it); ``rel_stepsize``:
            its step as a fraction of ε; ``success_rule``: how success at k steps is counted
            (``first-hit``: some iterate x_j, j ≤ k, misclassified; the run stops there).
        image_set: ``{"n", "n_positive", "digest"}`` of the images; ``cell_key``: the cell's digest.
        clean_accuracy: clean accuracy on the same images (``test_accuracy``: over the whole test
            split); ``clean_auc``, ``test_auc`` likewise.
        train_images: training images the variant learnt from; ``success_rate``: fooled / correctly
            classified clean, at the full budget.
        gradients: gradient passes of the run, over all images; ``attack_seconds``: its wall time;
            ``crafted``: for ``minimal``, the crafted set's folder (its summed crafting time counts).
    """

    study: str = ""
    measure: str = ""
    axis: Optional[str] = None
    axis_value: Optional[int] = None
    attack: str = ""
    attack_id: str = ""
    attack_title: str = ""
    attack_params: dict = field(default_factory=dict)
    epsilon: float = float("nan")
    epsilon_label: str = ""
    iterations: int = 0
    image_set: dict = field(default_factory=dict)
    cell_key: str = ""
    clean_accuracy: float = float("nan")
    clean_auc: float = float("nan")
    test_accuracy: float = float("nan")
    test_auc: float = float("nan")
    train_images: int = 0
    success_rate: float = float("nan")
    gradients: int = 0
    attack_seconds: float = 0.0
    crafted: str = ""
    rel_stepsize: float = float("nan")
    success_rule: str = ""
    worst_case_auc: float = float("nan")
    kind: str = "study"


@dataclass
class MultiLabelRecord(RecordBase):
    """One multi-label evaluation of a target (``task=multilabel``; formulas in :mod:`cxrbench.evaluation.multilabel`).

    ``accuracy`` (MLACC vs the findings; with one label, the binary accuracy) and ``auc`` (macro ROC-AUC)
    are over all ``images``; each k-robust figure has its own field and n. Not applicable: NaN.

    Attributes:
        evaluation: ``clean``, ``untargeted`` (PGD away from ``reference``) or ``risk`` (towards C(ŷ*)).
        reference: ``truth`` (the findings) or ``prediction`` (the clean thresholded output); '' unless untargeted.
        source, source_key: the model the adversarials were crafted on and its weights (clean: the target).
        loss: ``bce``, ``mse``, ``ordinal`` or ``topk``; ``epsilon`` (in [0, 1]), ``steps``, ``attack_params``;
            ``image_set`` and ``cell_key``: the evaluated images and the cell's configuration digest.
        k_accuracy: k -> ours, ``|top_k(p) ∩ P| / min(k, |P|)`` over the ``images_with_finding`` images.
        k_accuracy_paper: k -> Definition 1 literally, ``|top_k(p) ∩ top_k(y)| / k`` over all ``images``.
        k_consistency: k -> their code's variant (the clean top-1 label within the adversarial top-k).
        macro_auc, mse, bce, mlacc, ordinal, risk: the paper's other metrics (``mlacc`` vs the target for risk).
        clean, prior, thresholds: the metrics unattacked; the no-information baseline on the same images (one
            constant ranking by training-split frequency); the per-label thresholds (validation split).
    """

    evaluation: str = "clean"
    reference: str = ""
    source: str = ""
    source_key: str = ""
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
    mse: float = float("nan")
    bce: float = float("nan")
    mlacc: float = float("nan")
    ordinal: float = float("nan")
    risk: float = float("nan")
    clean: dict = field(default_factory=dict)
    prior: dict = field(default_factory=dict)
    thresholds: list = field(default_factory=list)
    kind: str = "multilabel"


SCHEMAS: dict[str, type] = {"clean": CleanRecord, "attack": AttackRecord, "robust": RobustRecord,
                            "study": StudyRecord, "multilabel": MultiLabelRecord, "crossdata": CrossDataRecord}


def to_document(record: RecordBase, root: Path) -> dict[str, Any]:
    """The JSON document of ``record``: its fields plus schema version, time stamp and provenance."""
    return {"schema": RECORD_SCHEMA_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **asdict(record), **manifest(root)}


def check_record(document: dict, where: str) -> dict:
    """Refuse a record of an unknown kind, an older schema or with missing fields."""
    kind = document.get("kind")
    if kind not in SCHEMAS:
        raise DataError(f"{where} is not a cxrbench record (kind {kind!r}); move it out of the records folder")
    if document.get("schema") in _UPGRADES:
        document = {**_UPGRADES[document["schema"]], **document}
    elif document.get("schema") != RECORD_SCHEMA_VERSION:
        raise DataError(f"{where} has record schema {document.get('schema')!r}, this version reads "
                        f"{RECORD_SCHEMA_VERSION}; rerun the run that wrote it or move it out of the records folder")
    document = upgrade_multilabel(document)
    if kind in ADDED:
        document = {**ADDED[kind](document), **document}
    missing = [f.name for f in fields(SCHEMAS[kind]) if f.name not in document]
    if missing:
        raise DataError(f"{where} lacks the {kind} record fields {missing}; rerun the run that wrote it")
    return document

