"""A study's settings (the ``study`` block), checked before any work."""
from __future__ import annotations

from dataclasses import fields

from cxrbench.attacks import get_attack_spec
from cxrbench.errors import ConfigError
from cxrbench.kit.config import check_positive, choose, required_settings
from cxrbench.models import list_models
from cxrbench.protocols.studies.tables import list_studies
from cxrbench.settings import StudyConfig, TrainConfig


def check_study(settings: StudyConfig | None) -> None:
    """A study's settings: present (study=<name>), a known study, a trajectory-recording attack, budgets
    within the run's steps."""
    study = required_settings(settings, "study=<name>", "study_budget")
    choose(study.name, tuple(list_studies()), "study.name")
    if not getattr(get_attack_spec(study.attack).builder, "trajectory", False):
        raise ConfigError(f"study.attack: {study.attack!r} records no per-step trajectory; use pgd or bim")
    if not 0 < study.rel_stepsize <= 1:
        raise ConfigError(f"study.rel_stepsize must lie in (0, 1] (a fraction of ε), got {study.rel_stepsize}")
    for name in study.minimal:
        get_attack_spec(name)  # an unknown name fails here, with the registry's list
    for key in ("epsilons", "epsilons_unit"):
        if any(not isinstance(e, (int, float)) or e <= 0 for e in getattr(study, key)):
            raise ConfigError(f"study.{key} must be positive radii, got {getattr(study, key)!r}")
    if any(e > 1 for e in study.radii()):
        raise ConfigError(f"study radii must lie in (0, 1] pixel units, got {study.radii()}; "
                          "study.epsilons is in units of 1/255, study.epsilons_unit in [0, 1]")
    for key in ("iterations", "bins"):
        check_positive(getattr(study, key), f"study.{key}", optional=False)
    check_positive(study.images, "study.images")
    bad = [k for k in study.report_iterations if not isinstance(k, int) or not 1 <= k <= study.iterations]
    if bad:
        raise ConfigError(f"study.report_iterations {bad} lie outside 1..study.iterations ({study.iterations})")
    train_fields = {f.name for f in fields(TrainConfig)}
    if study.axis is not None:
        choose(study.axis, tuple(sorted(train_fields)), "study.axis (a train option)")
        if not study.values:
            raise ConfigError(f"study.axis={study.axis} needs study.values, e.g. study.values=[750,1500,3000]")
        for value in study.values:
            check_positive(value, f"study.values ({study.axis})", optional=False)
    for recipe, models in study.variants.items():
        for name in models:
            choose(name, tuple(list_models()), f"model in study.variants.{recipe}")
