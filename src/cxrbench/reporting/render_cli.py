"""The shared command line of ``scripts/make_tables.py`` and ``scripts/make_figures.py``.

A render with nothing to render is an error, raised before any folder or file is made: a typo in
``--results`` or a seed the records do not hold must not leave (or overwrite with) empty tables.
A table that would lose filled cells is refused where it is written
(:func:`cxrbench.reporting.table_format.write_texts`) unless ``--replace`` is given.
"""
from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Callable

from cxrbench.errors import DataError, exit_code


def _parser(doc: str, default_results: Path, tables: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=default_results, help="results directory")
    parser.add_argument("--seed", type=int, default=None,
                        help="render only this run seed (default: every seed, each under <folder>/seed<k>/)")
    parser.add_argument("--data", default=None, help="data source of the records: phantom or nih")
    parser.add_argument("--train", default=None, help="training recipe of the records: quick or paper")
    if tables:
        parser.add_argument("--resamples", type=int, default=1000, help="bootstrap samples per cell")
        parser.add_argument("--replace", action="store_true",
                            help="overwrite existing tables even where the new render has fewer filled cells")
    return parser


def _other_tables(args: argparse.Namespace) -> dict[str, Path]:
    """The robust, transfer, multi-label and study tables of whatever records ``scripts/*.py`` left."""
    from cxrbench.reporting.multilabel_tables import render_multilabel
    from cxrbench.reporting.robust_table import render_robust
    from cxrbench.reporting.studies import list_studies, render_study
    from cxrbench.reporting.transfer import render_transfer

    quiet: Callable[[str], None] = lambda _: None  # noqa: E731  (each says "no records" when it has none)
    written = {f"robust/{k}": v for k, v in render_robust(
        args.results, data=args.data, resamples=args.resamples, log=quiet).items()}
    written.update({f"transfer/{k}": v for k, v in render_transfer(
        args.results, data=args.data, resamples=args.resamples, log=quiet).items()})
    written.update({f"multilabel/{k}": v for k, v in render_multilabel(args.results, data=args.data,
                                                                        log=quiet).items()})
    for study in list_studies():
        written.update({f"studies/{study}/{k}": v for k, v in render_study(
            study, args.results, data=args.data, log=quiet).items()})
    return written


def render_main(argv: list[str], *, doc: str, default_results: Path, tables: bool, figures: bool) -> int:
    """Parse the record filters, render the requested outputs, return the exit code."""
    args = _parser(doc, default_results, tables).parse_args(argv)
    extra = {"resamples": args.resamples} if tables else {}
    folder = "tables" if tables else "figures"
    filters = {"seed": args.seed, "data": args.data, "train": args.train}

    def render() -> None:
        from cxrbench.reporting.render import nothing_to_render, render_all, selected_any
        from cxrbench.reporting.selection import select_records

        if not args.results.is_dir():
            what = "is not a folder" if args.results.exists() else "does not exist"
            raise DataError(f"--results {args.results} {what}; give the results folder of your runs "
                            "(their paths.results_dir, by default results/ in the repository)")
        selections = select_records(args.results, seed=args.seed, data=args.data, train=args.train,
                                    log=lambda _: None)
        paper = selected_any(selections)
        # --seed and --train select Tables 1-2 and the figures only: with nothing of theirs, nothing is asked for.
        if not paper and (figures or args.seed is not None or args.train is not None):
            raise nothing_to_render(args.results, "clean or attack records", filters)
        written = render_all(args.results, seed=args.seed, data=args.data, train=args.train, tables=tables,
                             figures=figures, **extra) if paper else {}
        if tables:
            written.update(_other_tables(args))
        if not written:
            raise nothing_to_render(args.results, "records", filters)
        seeds = sorted({name.split("/", 1)[0] for name in written if name.startswith("seed")})
        print(f"{folder}: {len(written)} files in {args.results / folder} "
              f"({', '.join(seeds) if seeds else 'no seed selected'})")

    def guarded() -> None:
        from cxrbench.reporting.table_format import replacing_tables

        with replacing_tables() if tables and args.replace else contextlib.nullcontext():
            render()

    return exit_code(guarded)
