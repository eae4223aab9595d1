"""Write Tables 1 and 2 (with 95% bootstrap intervals and the comparison with the paper) from records.

    python scripts/make_tables.py                                   # results/ -> results/tables/
    python scripts/make_tables.py --results results --seed 0 --data phantom --train quick

A filter left out takes the one value the records hold (an error when they hold several).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cxrbench.errors import CxrBenchError

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "results", help="results directory")
    parser.add_argument("--seed", type=int, default=None, help="run seed of the records to use")
    parser.add_argument("--data", default=None, help="data source of the records: phantom or nih")
    parser.add_argument("--train", default=None, help="training recipe of the records: quick or paper")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap samples per cell")
    args = parser.parse_args(argv)
    try:
        from cxrbench.reporting.render import render_all

        written = render_all(args.results, seed=args.seed, data=args.data, train=args.train, figures=False,
                             resamples=args.resamples)
    except CxrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"tables: {len(written)} files in {args.results / 'tables'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
