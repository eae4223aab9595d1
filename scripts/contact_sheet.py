"""Write a contact sheet PNG of data samples with their labels, for a person to look at.

    python scripts/contact_sheet.py                         # phantom test split -> results/figures/contact_sheet.png
    python scripts/contact_sheet.py --n 48 --size 256 data=nih data.root=/path/to/ChestX-ray14

Options before the Hydra-style overrides: --n, --size, --subset (train/val/test), --out.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cxrbench.kit.compose import load_config
from cxrbench.errors import CxrBenchError

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--subset", choices=("train", "val", "test"), default="test")
    parser.add_argument("--out", type=Path, default=None)
    args, overrides = parser.parse_known_args(argv)
    try:
        from cxrbench.data import create_data_source
        from cxrbench.kit.pipeline import resolve_paths
        from cxrbench.reporting.contact_sheet import write_contact_sheet

        run = load_config(overrides, ROOT / "configs")
        paths = resolve_paths(run, ROOT)
        out = args.out or paths.results / "figures" / "contact_sheet.png"
        source = create_data_source(run.data, paths.root)
        print(f"contact sheet: {write_contact_sheet(source, out, n=args.n, size=args.size, subset=args.subset)}")
    except CxrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
