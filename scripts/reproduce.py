"""Regenerate an experiment end to end: train, attack, tabulate, plot.

    python scripts/reproduce.py experiment=quick
    python scripts/reproduce.py experiment=paper data.root=/path/to/ChestX-ray14

Takes the same overrides as ``scripts/run.py``; the experiment's ``grid`` says which attacks and
poolings to run. Finished work (checkpoints, crafted sets, evaluations) is reused.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.errors import exit_code
from cxrbench.reproduce import format_report, reproduce

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    return exit_code(lambda: print(format_report(reproduce(argv, CONFIGS, ROOT))))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
