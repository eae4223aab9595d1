"""The robust protocol's settings (the ``robust`` block), checked before any work."""
from __future__ import annotations

from cxrbench.attacks import get_attack_spec
from cxrbench.errors import ConfigError
from cxrbench.kit.config import check_positive, choose, required_settings
from cxrbench.models import list_models
from cxrbench.settings import RobustConfig


def check_robust(settings: RobustConfig | None) -> None:
    """The robust table's settings: present (robust=default), attacks that run at a fixed ε, positive budgets."""
    robust = required_settings(settings, "robust=default", "robust_quick")
    for name in robust.attacks:
        if not hasattr(get_attack_spec(name).builder, "run_fixed"):
            raise ConfigError(f"robust.attacks: {name!r} has no fixed-ε run; use L∞ iterative attacks (pgd, bim, apgd)")
    if not robust.epsilons or any(not isinstance(e, (int, float)) or e <= 0 for e in robust.epsilons):
        raise ConfigError(f"robust.epsilons must be positive radii in units of 1/255, got {robust.epsilons!r}")
    check_positive(robust.iterations, "robust.iterations", optional=False)
    check_positive(robust.images, "robust.images")
    for recipe, models in robust.variants.items():
        for name in models:
            choose(name, tuple(list_models()), f"model in robust.variants.{recipe}")
