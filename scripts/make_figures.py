"""Write Figures 1-4 (PNG and PDF) from records and the stored adversarials.

    python scripts/make_figures.py                                  # results/ -> results/figures/
    python scripts/make_figures.py --results results --seed 0 --data phantom --train quick

Per seed k: figures/seed<k>/figure{1..4}_*.{png,pdf}. Every seed the records hold is rendered;
--seed renders one. --data and --train left out take the one value the records hold (an error
when they hold several). Nothing to render (a --results folder that does not exist, a filter that
selects no clean or attack record) is an error that names what the records hold, and draws nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.app.aliases import alias_note
from cxrbench.app.report import report_main

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    alias_note("scripts/make_figures.py", "python scripts/report.py --figures-only")
    return report_main(argv, doc=__doc__, default_results=ROOT / "results", tables=False,
                       figures=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
