"""Command-line preflight: check overrides against the real config before Hydra starts a job.

Hydra's own messages for a wrong group option or a misspelt key span several lines and arrive
after the launcher started; this turns them into one line that lists the valid choices, and runs
the schema validation (and the chosen protocol's check of its settings) for every value of a
multirun sweep.
"""
from __future__ import annotations

from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser

from cxrbench.errors import exit_code
from cxrbench.kit.compose import compose_job, config_groups
from cxrbench.kit.config import validate
from cxrbench.kit.pipeline import resolve_paths
from cxrbench.protocols import get_protocol

_HYDRA_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                           "--experimental-rerun", "--cfg", "-c", "--package", "-p", "--info", "-i"}


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


def preflight(argv: list[str], config_dir: Path, config_name: str = "config") -> None:
    """Raise a one-line error if any job of this command line would get an invalid config or unwritable folder."""
    overrides = user_overrides(argv)
    if overrides is None:
        return
    groups = config_groups(config_dir)
    for variant in _expand(overrides):
        run = validate(compose_job(config_dir, config_name, variant, groups, extend=False))
        if run.protocol:
            get_protocol(run.protocol).check(run)
        # Hydra creates its run folder under paths.results_dir before the job starts: check it first.
        resolve_paths(run, Path(config_dir).resolve().parent).check_writable()


def script_main(argv: list[str], doc: str, run) -> int:
    """A thin experiment script: ``--help`` prints ``doc``; else ``run(argv)`` and print the summary it returns.

    Errors become one ``error:`` line and an exit code (:func:`cxrbench.errors.exit_code`).
    """
    if any(a in ("-h", "--help") for a in argv):
        print(doc)
        return 0
    return exit_code(lambda: print(run(argv)))
