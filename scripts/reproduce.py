"""Regenerate an experiment end to end: train, attack, tabulate, plot.

    python scripts/reproduce.py experiment=quick
    python scripts/reproduce.py experiment=paper data.root=/path/to/ChestX-ray14

Takes the same overrides as ``scripts/run.py``; the experiment's ``grid`` says which attacks and
poolings to run. Finished work (checkpoints, crafted sets, evaluations) is reused.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.cli import script_main
from cxrbench.reproduce import format_report, reproduce

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def main(argv: list[str]) -> int:
    return script_main(argv, __doc__, lambda args: format_report(reproduce(args, CONFIGS, ROOT)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
