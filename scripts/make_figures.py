"""Write Figures 1-4 (PNG and PDF) from records and the stored adversarials.

    python scripts/make_figures.py                                  # results/ -> results/figures/
    python scripts/make_figures.py --results results --seed 0 --data phantom --train quick

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
    args = parser.parse_args(argv)
    try:
        from cxrbench.reporting.render import render_all

        written = render_all(args.results, seed=args.seed, data=args.data, train=args.train, tables=False)
    except CxrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"figures: {len(written)} files in {args.results / 'figures'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
