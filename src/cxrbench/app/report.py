"""One command renders every table and figure from the records: each registered protocol's own.

    python scripts/report.py                          # results/ -> results/tables/, results/figures/
    python scripts/report.py --results results --seed 0 --data phantom --train quick --tables-only

A render with nothing to render is an error, raised before any folder or file is made: a typo in
``--results`` or a seed the records do not hold must not leave (or overwrite with) empty tables.
A table that would lose filled cells is refused where it is written
(:func:`cxrbench.reporting.table_format.write_texts`) unless ``--replace`` is given.
"""
from __future__ import annotations

import argparse
import contextlib
import re
from pathlib import Path

from cxrbench.errors import DataError, exit_code
from cxrbench.protocols import RenderRequest, get_protocol, list_protocols
from cxrbench.protocols.paper.render import nothing_to_render
from cxrbench.reporting.table_format import replacing_tables


def _parser(doc: str, default_results: Path, *, choose_outputs: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=default_results, help="results directory")
    parser.add_argument("--seed", type=int, default=None,
                        help="render only this run seed (default: every seed, each under <folder>/seed<k>/)")
    parser.add_argument("--data", default=None, help="data source of the records: phantom or nih")
    parser.add_argument("--train", default=None, help="training recipe of the records: quick or paper")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap samples per cell")
    parser.add_argument("--replace", action="store_true",
                        help="overwrite existing tables even where the new render has fewer filled cells")
    if choose_outputs:
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--tables-only", action="store_true", help="write the tables, not the figures")
        only.add_argument("--figures-only", action="store_true", help="write the paper's figures, not the tables")
    return parser


def render(results: Path, request: RenderRequest, *, log=print) -> dict[str, Path]:
    """Every registered protocol's outputs from the records under ``results``; name -> file.

    Raises:
        DataError: ``results`` is not a folder, or no protocol found records to render.
    """
    if not results.is_dir():
        what = "is not a folder" if results.exists() else "does not exist"
        raise DataError(f"--results {results} {what}; give the results folder of your runs "
                        "(their paths.results_dir, by default results/ in the repository)")
    written = {f"{name}/{key}": path for name in list_protocols()
               for key, path in get_protocol(name).render(results, request, log=log).items()}
    if not written:
        raise nothing_to_render(results, "records", {"seed": request.seed, "data": request.data,
                                                     "train": request.train})
    return written


def report_main(argv: list[str], *, doc: str, default_results: Path, tables: bool = True,
                figures: bool = True) -> int:
    """Parse the record filters, render the requested outputs, print where they went; the exit code.

    ``tables`` / ``figures`` fix what an alias renders; with both (``scripts/report.py``) the
    command line may narrow it with ``--tables-only`` or ``--figures-only``.
    """
    args = _parser(doc, default_results, choose_outputs=tables and figures).parse_args(argv)
    tables = tables and not getattr(args, "figures_only", False)
    figures = figures and not getattr(args, "tables_only", False)
    request = RenderRequest(seed=args.seed, data=args.data, train=args.train, resamples=args.resamples,
                            tables=tables, figures=figures)

    def run() -> None:
        with replacing_tables() if args.replace else contextlib.nullcontext():
            written = render(args.results, request)
        # Per-seed outputs are <protocol>/seed<k>/...: the seeds this render wrote.
        seeds = sorted({part for name in written for part in name.split("/")[1:2] if re.fullmatch(r"seed\d+", part)})
        where = args.results if tables and figures else args.results / ("tables" if tables else "figures")
        folders = " and ".join(f for f, on in (("tables", tables), ("figures", figures)) if on)
        print(f"{folders}: {len(written)} files in {where} ({', '.join(seeds) if seeds else 'no seed selected'})")

    return exit_code(run)
