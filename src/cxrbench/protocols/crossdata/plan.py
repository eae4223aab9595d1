"""Every config of a cross-dataset run, composed and validated before any work starts.

Each dataset of ``crossdata.datasets`` is composed from the command line's overrides plus its own
data overrides, then walked like any protocol's variants (seed × recipe × pooling × model of
``crossdata.models``), so a typo in any dataset's overrides, a dataset the multi-label task refuses
(SIIM-ACR labels one finding) or overrides that load another dataset than the name says fail
first, naming the dataset.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cxrbench.errors import ConfigError
from cxrbench.kit.compose import compose_raw
from cxrbench.kit.config import RunConfig, validate
from cxrbench.kit.variants import describe_variant, plan_variants
from cxrbench.protocols.crossdata.check import check_crossdata


@dataclass
class CrossPlan:
    """The validated base config, the datasets walked and every variant's config per dataset.

    ``variants[name][i]`` of every dataset is the same model (seed, recipe, pooling, architecture),
    loading that dataset: train on ``variants[a][i]``, test on the data of ``variants[b][i]``.
    """

    base: RunConfig
    train_on: list[str]
    test_on: list[str]
    variants: dict[str, list[RunConfig]] = field(default_factory=dict)

    def pairs(self) -> list[tuple[str, str]]:
        """Every (trained on, tested on), rows first as the table shows them."""
        return [(a, b) for a in self.train_on for b in self.test_on]

    def items(self) -> list[str]:
        """One line per trained model: what it is tested on."""
        return [f"{describe_variant(cfg)} trained on {a}: clean and white-box PGD on the test images of "
                f"{', '.join(self.test_on)}" for a in self.train_on for cfg in self.variants[a]]


def _loads(name: str, data) -> bool:
    """Whether ``data`` (a typed data config) is dataset ``name``, or the phantom drawing its label sets."""
    return data.source == name or (data.source == "phantom" and getattr(data, "label_sets", None) == name)


def _dataset_variants(name: str, shared: list[str], cross, config_dir: Path) -> list[RunConfig]:
    overrides = shared + [str(line) for line in cross.datasets[name]]
    try:
        base = validate(compose_raw(overrides, config_dir))
        if not _loads(name, base.data):
            loaded = base.data.source + (f" with data.label_sets={base.data.label_sets}"
                                         if base.data.source == "phantom" else "")
            raise ConfigError(f"its overrides load data={loaded}, not {name}; set data={name} (or data=phantom "
                              f"data.label_sets={name} offline)")
        return plan_variants(base, overrides, config_dir, {base.train.name: list(cross.models)},
                             name="crossdata.models")
    except ConfigError as exc:
        raise ConfigError(f"crossdata.datasets.{name}: {exc}") from None


def plan_crossdata(overrides: list[str], config_dir: Path) -> CrossPlan:
    """Compose and validate every dataset's variants; nothing is trained and no data is read.

    Raises:
        ConfigError: bad settings, a task other than multilabel, data overrides on the command line
            (each dataset brings its own), or a dataset whose configs do not validate.
    """
    base = validate(compose_raw(overrides, config_dir))
    cross = check_crossdata(base.crossdata)
    if base.task.name != "multilabel":
        raise ConfigError("the cross-dataset protocol measures multi-label models; add task=multilabel "
                          "(or use experiment=crossdata_quick)")
    stray = [o for o in overrides if o.lstrip("+~").split("=", 1)[0].split(".", 1)[0] == "data"]
    if stray:
        raise ConfigError(f"{stray[0]!r}: the cross-dataset protocol loads each dataset with its own overrides; "
                          f"put data settings in crossdata.datasets.<name> instead")
    train_on = list(cross.train_on or cross.datasets)
    test_on = list(cross.test_on or cross.datasets)
    plan = CrossPlan(base, train_on, test_on)
    for name in dict.fromkeys(train_on + test_on):
        plan.variants[name] = _dataset_variants(name, list(overrides), cross, config_dir)
    return plan
