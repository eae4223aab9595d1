"""Compose a job's config outside a Hydra app, with one-line errors.

Hydra's own messages for a wrong group option or a misspelt key span several lines; these turn
them into one line that lists the valid choices. The scripts, the protocols (which compose one
config per variant) and the tests use them; :mod:`cxrbench.app` checks a command line with them
before Hydra starts a job.
"""
from __future__ import annotations

import re
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from cxrbench.errors import ConfigError
from cxrbench.kit.config import RunConfig, validate


def config_groups(config_dir: Path) -> dict[str, list[str]]:
    """Each config group directory and the option names it offers."""
    return {p.name: sorted(f.stem for f in p.glob("*.yaml"))
            for p in sorted(Path(config_dir).iterdir()) if p.is_dir() and p.name != "hydra"}


def _open_mappings() -> tuple[str, ...]:
    """``<block>.variants`` of every settings block of :class:`RunConfig` that walks variants (robust, study)."""
    return tuple(f"{f.name}.variants" for f in fields(RunConfig)
                 if is_dataclass(f.default_factory if f.default_factory is not MISSING else None)
                 and "variants" in {g.name for g in fields(f.default_factory)})


#: Mappings whose keys the user chooses (training recipe -> models): an override may add a key to them.
OPEN_MAPPINGS = _open_mappings()


def _open_mapping(key: str) -> str | None:
    """The open mapping that ``key`` is or lies directly under (``robust.variants.paper``), or None."""
    return next((m for m in OPEN_MAPPINGS if key == m or key.rsplit(".", 1)[0] == m), None)


def _extend_open_mappings(overrides: list[str]) -> list[str]:
    """Make ``robust.variants={paper:[irv2]}`` (and ``robust.variants.paper=[irv2]``) add the new key.

    Hydra composes in struct mode, so a plain override may only change keys that exist; ``++`` merges
    the mapping and adds what is new, which is what the README documents for these user-keyed mappings.
    """
    return [f"++{line}" if not line.startswith(("+", "~")) and _open_mapping(line.split("=", 1)[0]) else line
            for line in overrides]


def _check_choices(overrides: list[str], groups: dict[str, list[str]]) -> None:
    for line in overrides:
        key, _, value = line.partition("=")
        group = key.lstrip("+~")
        if group in groups and value and value not in groups[group]:
            raise ConfigError(f"unknown {group} {value!r}; choose one of: {', '.join(groups[group])}")


def _additions(overrides: list[str], full: str, mapping: str, node: DictConfig) -> list[str]:
    """The ``+<mapping>.<key>=<value>`` overrides that add the new keys the override of ``full`` names."""
    out = []
    for o in OverridesParser.create().parse_overrides(overrides):
        if o.key_or_group != full:
            continue
        value = o.value()
        entries = ({k: v for k, v in value.items() if k not in node} if full == mapping and isinstance(value, dict)
                   else {full.rsplit(".", 1)[1]: value} if full != mapping else {})
        out += [f"+{mapping}.{k}=" + ("[" + ",".join(map(str, v)) + "]" if isinstance(v, list) else str(v))
                for k, v in entries.items()]
    return out


def _explain(exc: Exception, overrides: list[str], base: DictConfig | None) -> ConfigError:
    text = str(exc)
    missing = re.search(r"Key '([^']+)' is not in struct", text) or re.search(r"Could not override '([^']+)'", text)
    override = re.search(r"Could not override '([^']+)'", text)
    mapping = _open_mapping(override.group(1)) if override else None
    if mapping and base is not None:  # a new key of a user-keyed mapping: say how to add it, not "unknown"
        node = OmegaConf.select(base, mapping)
        valid = ", ".join(sorted(node.keys())) if isinstance(node, DictConfig) else "none"
        adds = _additions(overrides, override.group(1), mapping, node) or [f"+{mapping}.<recipe>=[<models>]"]
        return ConfigError(f"{mapping} holds {valid}, and here (Hydra's struct mode) a plain override changes only "
                           f"those keys: write {' '.join(adds)} to add one")
    if missing and override and base is not None:
        full = override.group(1)
        parent = full.rsplit(".", 1)[0] if "." in full else ""
        node = OmegaConf.select(base, parent) if parent else base
        valid = ", ".join(sorted(node.keys())) if isinstance(node, DictConfig) else "none"
        where = f"under '{parent}'" if parent else "at the top level"
        return ConfigError(f"unknown config key '{full}'; valid keys {where}: {valid}")
    return ConfigError(text.strip().splitlines()[0] if text.strip() else type(exc).__name__)


def compose_job(config_dir: Path, config_name: str, overrides: list[str], groups: dict[str, list[str]], *,
             extend: bool = True) -> DictConfig:
    """Compose one job's config; ``extend``: let overrides add keys to :data:`OPEN_MAPPINGS`.

    ``extend`` is off for :func:`preflight`: there Hydra's own app composes the job afterwards from the
    command line as typed, so the check must see exactly what Hydra will.
    """
    _check_choices(overrides, groups)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(Path(config_dir).resolve())):
            try:
                return compose(config_name=config_name,
                               overrides=_extend_open_mappings(overrides) if extend else overrides)
            except HydraException as exc:
                chosen = [o for o in overrides if o.split("=")[0] in groups]
                raise _explain(exc, overrides, compose(config_name=config_name, overrides=chosen)) from None
    finally:
        GlobalHydra.instance().clear()


def compose_raw(overrides: list[str], config_dir: Path, config_name: str = "config") -> DictConfig:
    """The composed (unvalidated) config of one job outside a Hydra app; errors are one line."""
    return compose_job(config_dir, config_name, overrides, config_groups(config_dir))


def load_config(overrides: list[str], config_dir: Path, config_name: str = "config") -> RunConfig:
    """Compose and validate the config of one job outside a Hydra app (scripts, tests)."""
    return validate(compose_raw(overrides, config_dir, config_name))
