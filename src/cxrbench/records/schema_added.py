"""Fields added to the records within one schema version, and how new ones are filled.

A record written before a field existed is read with the value the field would have held
(:data:`ADDED`; multi-label records: :func:`upgrade_multilabel`), so older results stay readable
without a schema bump.
"""
from __future__ import annotations


def _added_robust(document: dict) -> dict:
    # Before ``worst_case_auc`` existed, ``auc`` held that very number (worst case found per image).
    return {"worst_case_auc": document.get("auc", float("nan"))}


def _added_study(document: dict) -> dict:
    # Older study records ran the attack's own step (G2's ε/30) and counted success by the same first hit.
    fixed = document.get("measure") == "fixed"
    step = document.get("attack_params", {}).get("rel_stepsize", float("nan")) if fixed else float("nan")
    return {**_added_robust(document), "rel_stepsize": step, "success_rule": "first-hit" if fixed else ""}


#: Fields added to a kind within one schema version, filled in for the records written before them.
ADDED = {"robust": _added_robust, "study": _added_study}


def upgrade_multilabel(document: dict) -> dict:
    """A multi-label record from before issue 21 read as it was meant: its untargeted attack ran away
    from the clean prediction; its ``accuracy`` held the 1-robust accuracy (kept in ``k_accuracy``),
    now MLACC vs the findings (its ``mlacc``; NaN for risk, whose ``mlacc`` is vs the target)."""
    if document.get("kind") != "multilabel" or "k_accuracy_paper" in document:
        return document
    evaluation = document.get("evaluation")
    return {**document, "reference": "prediction" if evaluation == "untargeted" else "", "k_accuracy_paper": {},
            "images_with_finding": int((document.get("metrics") or {}).get("images_with_finding", 0)), "prior": {},
            "accuracy": document.get("mlacc", float("nan")) if evaluation != "risk" else float("nan")}


def worst_case_base(base: dict) -> dict:
    """Record-base fields of an attacked image vector, its AUC named for what it is.

    The vector holds the adversarial P(finding) where an attack broke the image and the clean one
    elsewhere, so its ROC-AUC is the AUC of the worst case found, not an AUC under attack: it goes
    to ``worst_case_auc`` (and ``metrics["worst_case_auc"]``), and ``auc`` stays NaN.
    """
    metrics = {("worst_case_auc" if k == "auc" else k): v for k, v in base["metrics"].items()}
    return {**base, "auc": float("nan"), "metrics": metrics}

