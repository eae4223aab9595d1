"""The cross-dataset protocol's settings (the ``crossdata`` block), checked before any work."""
from __future__ import annotations

from cxrbench.attacks.multilabel import LOSSES
from cxrbench.data.label_sets import PHANTOM_SETS, label_set_names
from cxrbench.errors import ConfigError
from cxrbench.kit.config import check_positive, choose, required_settings
from cxrbench.models import list_models
from cxrbench.settings import CrossDataConfig


def dataset_names() -> tuple[str, ...]:
    """What ``crossdata.datasets`` may name: the registered datasets that ship their labels."""
    return tuple(name for name in label_set_names() if name != PHANTOM_SETS)


def _check_datasets(datasets: dict) -> None:
    if not datasets:
        raise ConfigError("crossdata.datasets is empty; map each dataset to the overrides that load it, e.g. "
                          "\"crossdata.datasets.nih=['data=nih','data.root=/data/ChestX-ray14']\" (or crossdata=default)")
    for name, overrides in datasets.items():
        if name not in dataset_names():
            raise ConfigError(f"crossdata.datasets names {name!r}, which is not a registered dataset; choose among "
                              f"{', '.join(dataset_names())}")
        if not overrides:
            raise ConfigError(f"crossdata.datasets.{name} is empty; list the overrides that load it, e.g. "
                              f"[data={name}, data.root=/path/to/{name}]")
        for line in overrides:
            if not str(line).lstrip("+~").startswith(("data=", "data.")):
                raise ConfigError(f"crossdata.datasets.{name} holds {line!r}, which is no data override; it may "
                                  "only set data=... and data.<key>=... (everything else applies to every dataset)")


def _check_subset(chosen: list[str] | None, datasets: dict, key: str) -> None:
    for name in chosen or ():
        if name not in datasets:
            raise ConfigError(f"crossdata.{key} names {name!r}, which crossdata.datasets does not define; choose "
                              f"among {', '.join(datasets)} (or add crossdata.datasets.{name})")
    if chosen is not None and (not chosen or len(set(chosen)) != len(chosen)):
        raise ConfigError(f"crossdata.{key} must list distinct datasets of crossdata.datasets (null: all), got {chosen}")


def check_crossdata(settings: CrossDataConfig | None) -> CrossDataConfig:
    """The settings present (crossdata=default), registered datasets with data overrides only, train_on and
    test_on among them, known models and loss, a radius in (0, 255] of 1/255, positive budgets; the block."""
    cross = required_settings(settings, "crossdata=default", "crossdata_quick")
    _check_datasets(cross.datasets)
    _check_subset(cross.train_on, cross.datasets, "train_on")
    _check_subset(cross.test_on, cross.datasets, "test_on")
    if not cross.models:
        raise ConfigError("crossdata.models is empty; list a model to train on every dataset, e.g. "
                          "crossdata.models=[xrv_densenet121]")
    for name in cross.models:
        choose(name, tuple(list_models()), "model in crossdata.models")
    if len(set(cross.models)) != len(cross.models):
        raise ConfigError(f"crossdata.models names a model twice ({cross.models}); list each once")
    choose(cross.loss, tuple(LOSSES), "crossdata.loss")
    if isinstance(cross.epsilon, bool) or not 0 < cross.epsilon <= 255:
        raise ConfigError(f"crossdata.epsilon must be a radius in (0, 255] (units of 1/255), got {cross.epsilon}")
    check_positive(cross.steps, "crossdata.steps", optional=False)
    if not 0 < cross.rel_stepsize <= 1:
        raise ConfigError(f"crossdata.rel_stepsize must lie in (0, 1], got {cross.rel_stepsize}")
    check_positive(cross.images, "crossdata.images")
    return cross
