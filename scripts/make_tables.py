"""Write Tables 1 and 2 (with 95% bootstrap intervals and the comparison with the paper) from records.

    python scripts/make_tables.py                                   # results/ -> results/tables/
    python scripts/make_tables.py --results results --seed 0 --data phantom --train quick

A filter left out takes the one value the records hold (an error when they hold several).
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.reporting.render_cli import render_main

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    return render_main(argv, doc=__doc__, default_results=ROOT / "results", tables=True,
                       figures=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
