"""The ``cxrbench`` console script: the one entry and the one report under one name.

    cxrbench run attack=pgd model=nasnet pooling=avg      # = python scripts/run.py ...
    cxrbench run experiment=quick plan_only=true
    cxrbench run -m experiment=sweep hydra/launcher=submitit_slurm
    cxrbench report --results results                     # = python scripts/report.py ...
    cxrbench protocols                                    # the registered protocols

It reads ``configs/`` of the checkout the package is installed from (``pip install -e .``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from cxrbench.app.preflight import preflight
from cxrbench.app.report import report_main
from cxrbench.app.run import hydra_job
from cxrbench.errors import ConfigError, CxrBenchError
from cxrbench.kit.config_store import register_schemas
from cxrbench.protocols import get_protocol, list_protocols

#: The checkout the package runs from: ``src/cxrbench/app/cli.py`` -> the folder holding ``configs/``.
ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "configs"


@hydra.main(version_base="1.3", config_path=str(CONFIGS), config_name="config")
def _hydra_job(cfg: DictConfig) -> None:
    hydra_job(cfg, ROOT, CONFIGS)


def _run(argv: list[str]) -> int:
    if not (CONFIGS / "config.yaml").exists():
        raise ConfigError(f"no configs/ next to {ROOT / 'src'}: install cxrbench from its checkout with "
                          "pip install -e . and run it there")
    register_schemas()  # config.yaml and every option extend schemas Hydra finds only in its ConfigStore
    preflight(argv, CONFIGS)
    sys.argv = ["cxrbench run", *argv]  # Hydra reads its overrides and flags from sys.argv
    _hydra_job()
    return 0


def _protocols() -> int:
    for name in list_protocols():
        print(f"{name:<11} {get_protocol(name).title}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``cxrbench <run|report|protocols> ...``; the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    commands = {"run": lambda rest: _run(rest),
                "report": lambda rest: report_main(rest, doc=__doc__, default_results=ROOT / "results"),
                "protocols": lambda rest: _protocols()}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    try:
        return commands[argv[0]](argv[1:])
    except CxrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
