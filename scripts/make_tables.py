"""Write Tables 1 and 2 (with 95% bootstrap intervals and the comparison with the paper) from records.

    python scripts/make_tables.py                                   # results/ -> results/tables/
    python scripts/make_tables.py --results results --seed 0 --data phantom --train quick

Per seed k: tables/seed<k>/table{1_whitebox,2_blackbox}.{csv,md,tex} (+ _n.csv, _clean_same_images.csv,
_ci.{csv,tex}) and comparison_table{1,2}.{csv,md}; across the seeds: tables/table{1_whitebox,2_blackbox}
_mean_sd.{csv,md}; from robust records (scripts/robust.py): tables/robust/robust_accuracy.{md,csv,tex}. Every seed the records hold is rendered; --seed renders one. --data and --train
left out take the one value the records hold (an error when they hold several). Records of one
cell that measured different configurations are an error that names both files.

Nothing to render (a --results folder that does not exist, a --seed, --data or --train that selects
no record) is an error that names what the records hold, and writes nothing. A table is never
replaced by one with fewer filled cells (rendered from fewer records): that is refused, naming the
file; --replace overwrites it anyway.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.app.aliases import alias_note
from cxrbench.app.report import report_main

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    alias_note("scripts/make_tables.py", "python scripts/report.py --tables-only")
    return report_main(argv, doc=__doc__, default_results=ROOT / "results", tables=True,
                       figures=False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
