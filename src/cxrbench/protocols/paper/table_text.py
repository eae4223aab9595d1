"""Write one seed's :class:`~cxrbench.protocols.paper.tables.PaperTable`: values, n, intervals, comparison.

Precision: CSV 4 decimals (for analysis), Markdown 3 (intervals 2), LaTeX 2 (the paper's). A cell
without a value is empty in CSV and an em dash in Markdown (``—``) and LaTeX (``---``).

Every Markdown table says how many images each column is over and, in a second grid, the
target's clean figure on each column's own images (see :mod:`cxrbench.protocols.paper.table_notes`).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import pandas as pd

from cxrbench.protocols.paper.comparison import comparison, mean_absolute_difference
from cxrbench.protocols.paper.table_grid import (attack_notes, cell_grid, latex_table, markdown_document, markdown_grid,
                                                 row_keys)
from cxrbench.protocols.paper.table_notes import (CLEAN_SAME_TITLE, DAGGER, CellCounts, cell_variant, column_counts,
                                                  column_head, dagger_note, deviation_lines, deviation_text, n_suffix,
                                                  table_number, table_what)
from cxrbench.protocols.paper.tables import CLEAN, KEYS, PaperTable
from cxrbench.reporting.table_format import csv_text, fmt, latex_escape, write_texts


def _table_counts(table: PaperTable) -> CellCounts:
    n = table.n.set_index(KEYS)
    return lambda key, column: [] if math.isnan(n.at[key, column]) else [int(n.at[key, column])]


def _n_caption(columns: list[str], column_ns: dict[str, list[int]]) -> str:
    """``n per column: Clean 200, G1 20, ...`` for captions and notes (``varies 20/200`` where mixed)."""
    parts = [f"{'Clean' if c == CLEAN else c} {'varies ' if len(ns) > 1 else ''}{'/'.join(map(str, ns))}"
             for c, ns in column_ns.items() if ns]
    return "n per column (test images each value is over): " + (", ".join(parts) if parts else "no values")


def _table_deviations(table: PaperTable) -> list[str]:
    return deviation_lines((cell, deviation_text(d), cell_variant(cell)) for cell, d in table.deviations.items())


def _int_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with counts written as integers (empty where NaN): CSV readers then see whole numbers."""
    out = frame.copy()
    for c in columns:
        out[c] = ["" if math.isnan(v) else str(int(v)) for v in frame[c]]
    return out


def write_table_files(table: PaperTable, out_dir: Path, describe: str, *, resamples: int = 1000) -> dict[str, Path]:
    """Write one seed's table: values, n, clean-on-same-images, intervals and the comparison.

    Files: ``<name>.{csv,md,tex}``, ``<name>_n.csv``, ``<name>_clean_same_images.csv``,
    ``<name>_ci.{csv,tex}`` and ``comparison_tableN.{csv,md}``. The value CSVs keep the published
    layout exactly (``reference/`` columns and row keys).

    Args:
        table: the filled table.
        out_dir: destination folder (``results/tables/seed<k>``).
        describe: which records these are (the filters), printed in titles and captions.
        resamples: bootstrap samples the intervals were computed with (stated in the notes).

    Returns:
        File name -> written path.
    """
    name, columns = table.name, table.columns
    number = table_number(name)
    what = table_what(table.values["setting"].iloc[0])
    keys = row_keys(table.values)
    values, ci = table.values.set_index(KEYS), table.ci.set_index(KEYS)
    clean, clean_ci = table.clean_same.set_index(KEYS), table.clean_same_ci.set_index(KEYS)
    counts = _table_counts(table)
    column_ns = column_counts(keys, columns, counts)
    heads = [column_head(c, column_ns[c]) for c in columns]
    diff = comparison(table)
    mad = mean_absolute_difference(diff)
    diff = diff.set_index([*KEYS, "column"])
    deviations = _table_deviations(table)
    mark = {True: "", False: DAGGER}

    def with_interval(frame: pd.DataFrame, intervals: pd.DataFrame, marked: bool) -> Callable[[tuple, str], str]:
        def cell(key: tuple, column: str) -> str:
            value = frame.at[key, column]
            if math.isnan(value):
                return "—"
            lo, hi = (fmt(intervals.at[key, f"{column}_{end}"], 2) for end in ("lo", "hi"))
            interval = f"[{lo}, {hi}]" if lo and hi else "[?]"
            dagger = mark[table.comparable(key, column)] if marked else ""
            return f"{fmt(value, 3)}{dagger} {interval}{n_suffix(column_ns[column], counts(key, column))}"
        return cell

    def versus(key: tuple, column: str) -> str:
        cell = diff.loc[(*key, column)]
        if math.isnan(cell["ours"]):
            return f"— / {fmt(cell['published'], 2)}"
        ours = with_interval(values, ci, True)(key, column)
        return f"{ours} / {fmt(cell['published'], 2)} ({fmt(cell['difference'], 3, sign=True)})"

    def latex(frame: pd.DataFrame, intervals: pd.DataFrame | None) -> Callable[[tuple, str], str]:
        def cell(key: tuple, column: str) -> str:
            value = frame.at[key, column]
            if math.isnan(value):
                return "---"
            dagger = "" if table.comparable(key, column) else "^{\\dagger}"
            if intervals is None:
                return f"${fmt(value, 2)}{dagger}$" if dagger else fmt(value, 2)
            lo, hi = (fmt(intervals.at[key, f"{column}_{end}"], 2, "?") for end in ("lo", "hi"))
            # "{}" after the dagger: the interval's sub/superscript must not attach to it (double superscript)
            return f"${fmt(value, 2)}{dagger + '{}' if dagger else ''}_{{{lo}}}^{{{hi}}}$"
        return cell

    interval_note = (f"Each cell: value [95% percentile-bootstrap interval] ({resamples} resamples over the cell's "
                     "images, positives and negatives resampled separately); [?]: per-sample predictions gone. "
                     "Column headers give n, the test images a column's values are over: the Clean column is over "
                     "the whole test split, an attack column over the attacked images only (a cell states its own n "
                     "where its column mixes counts).")
    clean_intro = ["Read each attack cell above against the cell at the same place here: both are over the same "
                   "images. Clean column: the clean figure over all test images, as above."]
    files = f"`{name}.csv` (values), `{name}_n.csv` (n), `{name}_clean_same_images.csv`, `{name}_ci.csv` (intervals)"
    notes = ["— : no record for this cell.", *dagger_note(deviations), *attack_notes(columns), f"Files: {files}."]
    clean_cells = cell_grid(keys, columns, with_interval(clean, clean_ci, False))
    document = markdown_document(
        f"Table {number}. {what} ({describe})",
        [("", [interval_note], markdown_grid(table.values, columns, heads,
                                             cell_grid(keys, columns, with_interval(values, ci, True)))),
         (CLEAN_SAME_TITLE, clean_intro, markdown_grid(table.values, columns, heads, clean_cells))],
        notes)
    excluded = (f" Left out: {mad.left_out} cell(s) marked {DAGGER}, whose attack is weaker than the paper's, so a "
                "difference there is not a replication difference." if mad.left_out else "")
    comparison_doc = markdown_document(
        f"Table {number}, ours / published (ours − published): {what} ({describe})",
        [("", [interval_note], markdown_grid(table.values, columns, heads, cell_grid(keys, columns, versus))),
         (CLEAN_SAME_TITLE, clean_intro, markdown_grid(table.values, columns, heads, clean_cells))],
        [f"Mean |ours − published| over the {mad.used} of {len(diff)} cells we have that are comparable with the "
         f"paper: {fmt(mad.value, 3, '—')}.{excluded}", "— : no record for this cell.", *dagger_note(deviations),
         "The published values are over the paper's 200 test images (93 with a finding)."])
    dagger_caption = (" $^\\dagger$: attack weaker than the paper's, not comparable: "
                      + latex_escape("; ".join(deviations)) + "." if deviations else "")
    n_caption = latex_escape(_n_caption(columns, column_ns)) + "."
    texts = {
        f"{name}.csv": csv_text(table.values),
        f"{name}_n.csv": csv_text(_int_frame(table.n, columns)),
        f"{name}_clean_same_images.csv": csv_text(table.clean_same),
        f"{name}.md": document,
        f"{name}.tex": latex_table(name, table.values, columns, cell_grid(keys, columns, latex(values, None)),
                                   f"{what}, ours ({latex_escape(describe)}). {n_caption} ---: no record."
                                   + dagger_caption),
        f"{name}_ci.csv": csv_text(table.ci),
        f"{name}_ci.tex": latex_table(
            f"{name}_ci", table.values, columns, cell_grid(keys, columns, latex(values, ci)),
            f"{what}, ours ({latex_escape(describe)}), with 95\\% percentile-bootstrap intervals over the cell's "
            f"test images (stratified by label): value$_{{\\mathrm{{low}}}}^{{\\mathrm{{high}}}}$. {n_caption} "
            "---: no record." + dagger_caption),
        f"comparison_table{number}.csv": csv_text(diff.reset_index()),
        f"comparison_table{number}.md": comparison_doc,
    }
    return write_texts(Path(out_dir), texts)
