"""The variants a protocol trains and attacks, each composed and validated before any work starts.

The robust and studies protocols walk a mapping of training recipe -> models (each
with every pooling of ``grid.poolings``, once per seed) and, for a study, every value of one
training option. Each variant's config is composed from the user's overrides with the
per-variant ones replaced, so a typo anywhere fails before the first model trains.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from cxrbench.errors import ConfigError
from cxrbench.kit.compose import compose_raw, config_groups
from cxrbench.kit.config import RunConfig, validate
from cxrbench.kit.pipeline import Paths, resolve_paths
from cxrbench.runtime import Runtime, resolve_runtime, seed_everything

#: Overrides that the walk sets per variant (the user's own values for them are replaced).
PER_VARIANT = ("train", "model", "pooling", "seed")


def check_recipes(name: str, config_dir: Path, recipes: dict[str, list[str]]) -> None:
    """Every recipe is a ``configs/train`` option and at least one model is listed, else one error line.

    Raises:
        ConfigError: an unknown recipe (with the valid ones), or no model at all (with how to list one).
    """
    known = config_groups(config_dir).get("train", [])
    for recipe in recipes:
        if recipe not in known:
            raise ConfigError(f"{name}.{recipe}: {recipe!r} is not a training recipe (a configs/train option); "
                              f"choose one of: {', '.join(known)}")
    if not any(recipes.values()):
        listed = ", ".join(f"{recipe}: []" for recipe in recipes) or "no recipe"
        example = f"{name}.{next(iter(recipes), 'quick')}=[irv2]"
        raise ConfigError(f"{name} lists no model ({listed}), so there is nothing to train or attack; list one, "
                          f"e.g. {example}")


def plan_variants(base: RunConfig, overrides: list[str], config_dir: Path, recipes: dict[str, list[str]], *,
                  name: str = "the variants", axis: Optional[str] = None, values: Sequence = ()) -> list[RunConfig]:
    """Every variant's config: seed × recipe × pooling × model (× ``train.<axis>`` value).

    Args:
        base: the command line's validated config (its seeds and poolings are walked).
        overrides: the command line's overrides.
        config_dir: the Hydra config folder.
        recipes: training recipe (a ``configs/train`` option) -> registered model names.
        name: the config key ``recipes`` was read from, for messages (``robust.variants``).
        axis: a training option set per variant (``train_size``, ``input_size``), or None.
        values: its values, in the order the variants are walked.

    Raises:
        ConfigError: an unknown recipe, no model in any recipe, or an invalid variant config.
    """
    check_recipes(name, config_dir, recipes)
    varied = PER_VARIANT + ((f"train.{axis}",) if axis else ())
    shared = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] not in varied]
    settings = [[f"train.{axis}={v}"] for v in values] if axis else [[]]
    cfgs = []
    for seed in base.seeds or [base.seed]:
        for recipe, models in recipes.items():
            for pooling in base.grid.poolings:
                for model in models:
                    for setting in settings:
                        cfgs.append(validate(compose_raw(
                            shared + [f"train={recipe}", f"model={model}", f"pooling={pooling}", f"seed={seed}"]
                            + setting, config_dir)))
    return cfgs


def describe_variant(cfg: RunConfig) -> str:
    """One variant as a plan lists it: ``irv2/max seed 0 (quick recipe, pgd-at)``."""
    regime = cfg.train.adversary.regime()
    return (f"{cfg.model.name}/{cfg.pooling.mode} seed {cfg.seed} ({cfg.train.name} recipe"
            f"{'' if regime == 'standard' else ', ' + regime})")


def measure_variants(base: RunConfig, cfgs: list[RunConfig], root: Path,
                     measure: Callable[[RunConfig, Paths, Runtime], list[dict]]) -> tuple[Paths, list[dict]]:
    """Check the output folders once, then ``measure`` every variant in turn (each seeded); all their records."""
    paths = resolve_paths(base, root)
    paths.check_writable()
    runtime = resolve_runtime(base.device)
    records = []
    for cfg in cfgs:
        seed_everything(cfg.seed, cfg.deterministic)
        records += measure(cfg, paths, runtime)
    return paths, records


def tally(records: list[dict]) -> dict[str, int]:
    """How many cells were computed by this run and how many were read back from earlier runs."""
    return {"computed": sum(not r["reused"] for r in records), "reused": sum(r["reused"] for r in records)}
