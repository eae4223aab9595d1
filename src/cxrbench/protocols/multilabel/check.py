"""The multi-label protocol's settings (the ``multilabel`` block), checked before any work."""
from __future__ import annotations

from cxrbench.attacks.multilabel import LOSSES, REFERENCES, UNTARGETED_ONLY
from cxrbench.errors import ConfigError
from cxrbench.kit.config import check_positive, choose, required_settings
from cxrbench.models import list_models
from cxrbench.settings import MultiLabelConfig


def check_multilabel(settings: MultiLabelConfig | None) -> None:
    """The multi-label protocol: its settings present (multilabel=default), known models and losses, positive
    radii and budgets, both fixed budgets on the grid."""
    ml = required_settings(settings, "multilabel=default", "multilabel_quick")
    for name in ml.models:
        choose(name, tuple(list_models()), "model in multilabel.models")
    choose(ml.loss, tuple(LOSSES), "multilabel loss")
    for loss in ml.risk_losses:  # the risk attack descends towards its target: an ascent-only loss cannot
        choose(loss, tuple(name for name in LOSSES if name not in UNTARGETED_ONLY), "multilabel risk loss")
    choose(ml.reference, REFERENCES, "multilabel.reference")
    if not isinstance(ml.k, int) or isinstance(ml.k, bool) or ml.k < 1:
        raise ConfigError(f"multilabel.k must be a positive integer, got {ml.k!r}")
    if any(not isinstance(e, (int, float)) or not 0 < e <= 255 for e in ml.epsilons):
        raise ConfigError(f"multilabel.epsilons must be radii in (0, 255] (units of 1/255), got {ml.epsilons}")
    if any(not isinstance(k, int) or k < 1 for k in ml.steps):
        raise ConfigError(f"multilabel.steps must be positive step budgets, got {ml.steps}")
    for name in ("transfer", "risk"):
        budget = getattr(ml, name)
        if set(budget) != {"epsilon", "steps"}:
            raise ConfigError(f"multilabel.{name} must give epsilon and steps, got {dict(budget)}")
    if (ml.transfer["epsilon"] not in ml.epsilons) or (ml.transfer["steps"] not in ml.steps):
        raise ConfigError(f"multilabel.transfer {dict(ml.transfer)} must be a cell of the grid (epsilons "
                          f"{ml.epsilons} x steps {ml.steps}): its adversarials are the grid's")
    if not 0 < ml.rel_stepsize <= 1:
        raise ConfigError(f"multilabel.rel_stepsize must lie in (0, 1], got {ml.rel_stepsize}")
    check_positive(ml.images, "multilabel.images")
