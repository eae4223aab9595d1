"""Compose a job's config outside a Hydra app, with one-line errors.

Hydra's own messages for a wrong group option or a misspelt key span several lines; these turn
them into one line that lists the valid choices. The scripts, the protocols (which compose one
config per variant) and the tests use them; :mod:`cxrbench.app` checks a command line with them
before Hydra starts a job.
"""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cxrbench.errors import ConfigError
from cxrbench.kit.config import RunConfig, validate
from cxrbench.kit.config_store import group_schemas, optional_groups, register_schemas


def config_groups(config_dir: Path) -> dict[str, list[str]]:
    """Each config group directory and the option names it offers."""
    return {p.name: sorted(f.stem for f in p.glob("*.yaml"))
            for p in sorted(Path(config_dir).iterdir()) if p.is_dir() and p.name != "hydra"}


def _open_mappings() -> tuple[str, ...]:
    """``<group>.variants`` of every settings group whose schema walks variants (robust, study)."""
    return tuple(f"{group}.variants" for group, schema in group_schemas().items()
                 if "variants" in {f.name for f in fields(schema)})


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


def _cause(exc: BaseException) -> OmegaConfBaseException | None:
    """The OmegaConf error under Hydra's (a type or key error of a typed node), or None."""
    while exc is not None and not isinstance(exc, OmegaConfBaseException):
        exc = exc.__cause__
    return exc


def _valid_keys(base: DictConfig, parent: str) -> str:
    node = OmegaConf.select(base, parent) if parent else base
    return ", ".join(sorted(map(str, node.keys()))) if isinstance(node, DictConfig) else "none"


def _unknown_key(full: str, base: DictConfig) -> ConfigError:
    parent = full.rsplit(".", 1)[0] if "." in full else ""
    where = f"under '{parent}'" if parent else "at the top level"
    return ConfigError(f"unknown config key '{full}'; valid keys {where}: {_valid_keys(base, parent)}")


def _explain(exc: Exception, overrides: list[str], base: DictConfig | None) -> ConfigError:
    text = str(exc)
    override = re.search(r"Could not override '([^']+)'", text)
    mapping = _open_mapping(override.group(1)) if override else None
    if mapping and base is not None:  # a new key of a user-keyed mapping: say how to add it, not "unknown"
        node = OmegaConf.select(base, mapping)
        valid = ", ".join(sorted(node.keys())) if isinstance(node, DictConfig) else "none"
        adds = _additions(overrides, override.group(1), mapping, node) or [f"+{mapping}.<recipe>=[<models>]"]
        return ConfigError(f"{mapping} holds {valid}, and here (Hydra's struct mode) a plain override changes only "
                           f"those keys: write {' '.join(adds)} to add one")
    if override and base is not None:  # "Key 'lrr' not in 'TrainConfig'": the schema has no such key
        return _unknown_key(override.group(1), base)
    cause = _cause(exc)
    if cause is not None:  # "Error merging override train.lr=fast": the typed node refused the value
        key = str(getattr(cause, "full_key", "") or "")
        reason = str(getattr(cause, "msg", cause)).strip().splitlines()[0]
        unknown = re.match(r"Key '([^']+)' (?:is )?not in", reason)
        if unknown and base is not None:
            return _unknown_key(key or unknown.group(1), base)
        reason = re.sub(r"field '[^']+' is not Optional", "null is not allowed here", reason)
        return ConfigError(f"invalid value for '{key}': {reason}" if key else reason)
    return ConfigError(text.strip().splitlines()[0] if text.strip() else type(exc).__name__)


def _selecting(config_dir: Path, group: str) -> list[str]:
    """The experiments whose defaults list selects an option of ``group``."""
    return sorted(p.stem for p in (Path(config_dir) / "experiment").glob("*.yaml")
                  if re.search(rf"override /{group}\s*:", p.read_text()))


def _unselected(overrides: list[str], base: DictConfig, groups: dict[str, list[str]],
                config_dir: Path) -> ConfigError | None:
    """An override below a group this run leaves null (``robust.epsilons=[1]`` without robust), or None."""
    for line in overrides:
        key = line.lstrip("+~").split("=", 1)[0]
        group = key.split(".", 1)[0]
        if "." in key and group in optional_groups() and OmegaConf.select(base, group) is None:
            options = " | ".join(groups.get(group, [])) or "<option>"
            experiments = [f"experiment={name}" for name in _selecting(config_dir, group)]
            run = (f", or run {experiments[0]}, which selects them" if len(experiments) == 1 else
                   f", or run one of {', '.join(experiments)}, which select them" if experiments else "")
            return ConfigError(f"'{key}' sets the {group} settings, which this run does not select ({group} is null): "
                               f"add {group}={options}{run}")
    return None


def compose_job(config_dir: Path, config_name: str, overrides: list[str], groups: dict[str, list[str]], *,
             extend: bool = True) -> DictConfig:
    """Compose one job's config against the registered schemas; ``extend``: let overrides add keys to :data:`OPEN_MAPPINGS`.

    ``extend`` is off for :func:`preflight`: there Hydra's own app composes the job afterwards from the
    command line as typed, so the check must see exactly what Hydra will.
    """
    _check_choices(overrides, groups)
    register_schemas()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(Path(config_dir).resolve())):
            try:
                return compose(config_name=config_name,
                               overrides=_extend_open_mappings(overrides) if extend else overrides)
            # Hydra asserts (no HydraException) when an override reaches below a null group.
            except (HydraException, AssertionError) as exc:
                chosen = [o for o in overrides if o.lstrip("+").split("=")[0] in groups]
                base = compose(config_name=config_name, overrides=chosen)
                unselected = _unselected(overrides, base, groups, config_dir)
                if unselected is not None:
                    raise unselected from None
                if isinstance(exc, AssertionError):
                    raise
                raise _explain(exc, overrides, base) from None
    finally:
        GlobalHydra.instance().clear()


def compose_raw(overrides: list[str], config_dir: Path, config_name: str = "config") -> DictConfig:
    """The composed (unvalidated) config of one job outside a Hydra app; errors are one line."""
    return compose_job(config_dir, config_name, overrides, config_groups(config_dir))


def load_config(overrides: list[str], config_dir: Path, config_name: str = "config") -> RunConfig:
    """Compose and validate the config of one job outside a Hydra app (scripts, tests)."""
    return validate(compose_raw(overrides, config_dir, config_name))
