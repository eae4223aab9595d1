"""How models and variants are named in every table and figure: labels from the model registry.

The pooling abbreviations (MP / AP) and the paper ids of the models (IR2, NL) are the paper's; a
model trained another way than the paper's (PGD-AT) carries its regime after a slash.
"""
from __future__ import annotations

from cxrbench.errors import DataError
from cxrbench.models import get_model_spec, list_models

#: The paper's row labels -> our config names (abbreviations of the paper, not results).
POOLING = {"MP": "max", "AP": "avg"}
POOLING_LABEL = {name: label for label, name in POOLING.items()}
#: The paper's training: a model row without a regime suffix.
STANDARD = "standard"


def model_label(model: str, regime: str = STANDARD) -> str:
    """A row's model label: the registry's paper abbreviation (``IR2``), plus ``/PGD-AT`` for another regime."""
    base = get_model_spec(model).paper_id
    return base if regime == STANDARD else f"{base}/{regime.upper()}"


def parse_model_label(label: str) -> tuple[str, str]:
    """(registry name, regime) of a row's model label (the inverse of :func:`model_label`)."""
    base, _, regime = label.partition("/")
    by_id = {get_model_spec(m).paper_id: m for m in list_models()}
    if base not in by_id:
        raise DataError(f"row label {label!r} names no registered model (paper ids: {', '.join(by_id)})")
    return by_id[base], regime.lower() or STANDARD


def variant_label(model: str, pooling: str, regime: str = STANDARD) -> str:
    """The tables' name of a variant, e.g. ``MP IR2`` or ``MP IR2/PGD-AT``."""
    return f"{POOLING_LABEL.get(pooling, pooling)} {model_label(model, regime)}"
