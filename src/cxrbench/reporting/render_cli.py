"""The shared command line of ``scripts/make_tables.py`` and ``scripts/make_figures.py``."""
from __future__ import annotations

import argparse
from pathlib import Path

from cxrbench.errors import exit_code


def render_main(argv: list[str], *, doc: str, default_results: Path, tables: bool, figures: bool) -> int:
    """Parse the record filters, render the requested outputs, return the exit code."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=default_results, help="results directory")
    parser.add_argument("--seed", type=int, default=None,
                        help="render only this run seed (default: every seed, each under <folder>/seed<k>/)")
    parser.add_argument("--data", default=None, help="data source of the records: phantom or nih")
    parser.add_argument("--train", default=None, help="training recipe of the records: quick or paper")
    if tables:
        parser.add_argument("--resamples", type=int, default=1000, help="bootstrap samples per cell")
    args = parser.parse_args(argv)
    extra = {"resamples": args.resamples} if tables else {}
    folder = "tables" if tables else "figures"

    def render() -> None:
        from cxrbench.reporting.render import render_all

        written = render_all(args.results, seed=args.seed, data=args.data, train=args.train, tables=tables,
                             figures=figures, **extra)
        if tables:  # the robust table too, when scripts/robust.py left records
            from cxrbench.reporting.robust_table import render_robust

            written.update({f"robust/{k}": v for k, v in render_robust(
                args.results, data=args.data, resamples=args.resamples, log=lambda _: None).items()})
            from cxrbench.reporting.transfer import render_transfer

            written.update({f"transfer/{k}": v for k, v in render_transfer(
                args.results, data=args.data, resamples=args.resamples, log=lambda _: None).items()})
            from cxrbench.reporting.multilabel_tables import render_multilabel

            written.update({f"multilabel/{k}": v for k, v in render_multilabel(
                args.results, data=args.data, log=lambda _: None).items()})
            from cxrbench.reporting.studies import list_studies, render_study

            for study in list_studies():  # and every study that scripts/study.py left records of
                written.update({f"studies/{study}/{k}": v for k, v in render_study(
                    study, args.results, data=args.data, log=lambda _: None).items()})
        seeds = sorted({name.split("/", 1)[0] for name in written if name.startswith("seed")})
        print(f"{folder}: {len(written)} files in {args.results / folder} "
              f"({', '.join(seeds) if seeds else 'no seed selected'})")

    return exit_code(render)
