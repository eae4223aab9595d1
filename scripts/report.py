"""Render every table and figure of every protocol from the records (nothing is trained or attacked).

    python scripts/report.py                                 # results/ -> results/tables/, results/figures/
    python scripts/report.py --results results --seed 0 --data phantom --train quick
    python scripts/report.py --tables-only                   # or --figures-only

Every seed the records hold is rendered (Tables 1-2 and Figures 1-4 per seed, under seed<k>/);
--seed renders one. --data and --train left out take the one value the records hold (an error when
they hold several). Nothing to render is an error that names what the records hold, and writes nothing.
A table is never replaced by one with fewer filled cells unless --replace is given.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.app.report import report_main

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    return report_main(argv, doc=__doc__, default_results=ROOT / "results")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
