"""Command-line preflight: check overrides against the real config before Hydra starts a job.

Hydra's own messages for a wrong group option or a misspelt key span several
lines and arrive after the launcher started; this turns them into one line that
lists the valid choices, and also runs the schema validation, for every value of
a multirun sweep.
"""
from __future__ import annotations

import re
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from cxrbench.config import RunConfig, validate
from cxrbench.errors import ConfigError

_HYDRA_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                           "--experimental-rerun", "--cfg", "-c", "--package", "-p", "--info", "-i"}


def config_groups(config_dir: Path) -> dict[str, list[str]]:
    """Each config group directory and the option names it offers."""
    return {p.name: sorted(f.stem for f in p.glob("*.yaml"))
            for p in sorted(Path(config_dir).iterdir()) if p.is_dir() and p.name != "hydra"}


def user_overrides(argv: list[str]) -> list[str] | None:
    """The ``key=value`` overrides of a command line, or None for help/inspection flags."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--help", "-h", "--hydra-help", "--version", "--shell-completion", "-sc", "--info", "-i",
                   "--cfg", "-c", "--resolve"):
            return None
        if arg.startswith("-"):
            skip = arg in _HYDRA_FLAGS_WITH_VALUE
            continue
        if not arg.split("=", 1)[0].lstrip("+~").startswith("hydra"):
            out.append(arg)
    return out


def _expand(overrides: list[str]) -> list[list[str]]:
    """One override list per sweep value (linear, not the cartesian grid: enough to check each value)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    base = [o.input_line for o in parsed if not o.is_sweep_override()]
    variants = [base]
    for o in parsed:
        if o.is_sweep_override():
            prefix = o.input_line.split("=", 1)[0]
            variants += [base + [f"{prefix}={value}"] for value in o.sweep_string_iterator()]
    return variants


#: Mappings whose keys the user chooses (training recipe -> models): an override may add a key to them.
OPEN_MAPPINGS = ("robust.variants", "study.variants")


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


def _compose(config_dir: Path, config_name: str, overrides: list[str], groups: dict[str, list[str]], *,
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
    return _compose(config_dir, config_name, overrides, config_groups(config_dir))


def load_config(overrides: list[str], config_dir: Path, config_name: str = "config") -> RunConfig:
    """Compose and validate the config of one job outside a Hydra app (scripts, tests)."""
    return validate(compose_raw(overrides, config_dir, config_name))


def preflight(argv: list[str], config_dir: Path, config_name: str = "config") -> None:
    """Raise a one-line error if any job of this command line would get an invalid config or unwritable folder."""
    overrides = user_overrides(argv)
    if overrides is None:
        return
    from cxrbench.pipeline import resolve_paths

    groups = config_groups(config_dir)
    for variant in _expand(overrides):
        run = validate(_compose(config_dir, config_name, variant, groups, extend=False))
        # Hydra creates its run folder under paths.results_dir before the job starts: check it first.
        resolve_paths(run, Path(config_dir).resolve().parent).check_writable()


def script_main(argv: list[str], doc: str, run) -> int:
    """A thin experiment script: ``--help`` prints ``doc``; else ``run(argv)`` and print the summary it returns.

    Errors become one ``error:`` line and an exit code (:func:`cxrbench.errors.exit_code`).
    """
    from cxrbench.errors import exit_code

    if any(a in ("-h", "--help") for a in argv):
        print(doc)
        return 0
    return exit_code(lambda: print(run(argv)))
