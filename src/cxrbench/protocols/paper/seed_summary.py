"""Tables across seeds: every cell's mean ± sample sd over the seeds that have it, and its files."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cxrbench.protocols.paper.table_grid import attack_notes, cell_grid, markdown_document, markdown_grid, row_keys
from cxrbench.protocols.paper.table_notes import (CLEAN_SAME_TITLE, DAGGER, CellCounts, cell_variant, column_counts,
                                                  column_head, dagger_note, deviation_lines, deviation_text, n_suffix,
                                                  table_number, table_what)
from cxrbench.protocols.paper.tables import KEYS, CellKey, PaperTable, read_reference
from cxrbench.reporting.table_format import csv_text, fmt, write_texts


@dataclass
class SeedSummary:
    """One table's cells across seeds: mean, sample sd and number of seeds that have each cell.

    Attributes:
        name: the table name.
        published: the published table (its keys and columns give the layout).
        seeds: the seeds summarised.
        mean: published layout, mean over the seeds that have the cell.
        sd: published layout, sample sd (``ddof=1``; NaN with fewer than two seeds).
        count: published layout, how many seeds have the cell.
        clean_mean: mean of the target's clean figure on each cell's images.
        clean_sd: its sample sd.
        n: cell -> the image counts the seeds' cells are over (sorted, distinct).
        deviations: cell -> ``{seed: deviations}`` of seeds whose cell is not comparable with the paper.
    """

    name: str
    published: pd.DataFrame
    seeds: list[int]
    mean: pd.DataFrame
    sd: pd.DataFrame
    count: pd.DataFrame
    clean_mean: pd.DataFrame
    clean_sd: pd.DataFrame
    n: dict[CellKey, list[int]] = field(default_factory=dict)
    deviations: dict[CellKey, dict[int, dict]] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [c for c in self.published.columns if c not in KEYS]


def _mean_sd(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sample sd and count over axis 0, ignoring NaN (a seed without the cell)."""
    count = (~np.isnan(stack)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.nansum(stack, axis=0) / np.maximum(count, 1), np.nan)
        squares = np.nansum((stack - mean) ** 2, axis=0)
        sd = np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), np.nan)
    return mean, sd, count


def _at(frame: pd.DataFrame, keys: tuple, column: str) -> float:
    """The value of ``column`` in the row of ``frame`` with ``keys`` (NaN: no such row)."""
    match = frame[(frame[KEYS] == pd.Series(keys, index=KEYS)).all(axis=1)]
    return float(match[column].iloc[0]) if len(match) else math.nan


def summarize_seeds(tables: dict[int, PaperTable], name: str, *,
                    reference_dir: Path | None = None) -> SeedSummary:
    """Mean ± sample sd of every cell of table ``name`` over the seeds that have it.

    Args:
        tables: the table of each seed (may be empty: every cell then has zero seeds).
        name: ``table1_whitebox`` or ``table2_blackbox``.
        reference_dir: folder of the published tables (for the layout when ``tables`` is empty).
    """
    published = read_reference(name, reference_dir)
    columns = [c for c in published.columns if c not in KEYS]
    seeds = sorted(tables)
    # The published rows, then rows some seed added (another training regime), in first-seen order.
    published = pd.concat([published, *(tables[s].published for s in seeds)], ignore_index=True).drop_duplicates(
        KEYS, ignore_index=True)
    frames = {k: published[KEYS].copy() for k in ("mean", "sd", "count", "clean_mean", "clean_sd")}
    shape = (len(seeds), len(published), len(columns))
    index = pd.MultiIndex.from_frame(published[KEYS])

    def aligned(frame: pd.DataFrame) -> np.ndarray:
        return frame.set_index(KEYS)[columns].reindex(index).to_numpy(float)

    values = np.stack([aligned(tables[s].values) for s in seeds]) if seeds else np.empty(shape)
    clean = np.stack([aligned(tables[s].clean_same) for s in seeds]) if seeds else np.empty(shape)
    mean, sd, count = _mean_sd(values)
    clean_mean, clean_sd, _ = _mean_sd(clean)
    for j, column in enumerate(columns):
        frames["mean"][column], frames["sd"][column] = mean[:, j], sd[:, j]
        frames["count"][column] = count[:, j].astype(float)
        frames["clean_mean"][column], frames["clean_sd"][column] = clean_mean[:, j], clean_sd[:, j]
    summary = SeedSummary(name, published, seeds, **frames)
    for i, row in enumerate(published[KEYS].itertuples(index=False)):
        for column in columns:
            cell = (*tuple(row), column)
            counts = [_at(tables[s].n, row, column) for s in seeds]
            images = sorted({int(n) for n in counts if not math.isnan(n)})
            if images:
                summary.n[cell] = images
            weakened = {s: tables[s].deviations[cell] for s in seeds if cell in tables[s].deviations}
            if weakened:
                summary.deviations[cell] = weakened
    return summary


# --- files ---------------------------------------------------------------------------------------

def _summary_counts(summary: SeedSummary) -> CellCounts:
    return lambda key, column: summary.n.get((*key, column), [])


def _summary_deviations(summary: SeedSummary) -> list[str]:
    return deviation_lines((cell, deviation_text(d), f"{cell_variant(cell)} seed {seed}")
                           for cell, by_seed in summary.deviations.items() for seed, d in by_seed.items())


def _summary_csv(summary: SeedSummary) -> str:
    """Keys, then per column ``<col>_mean``, ``<col>_sd`` and ``<col>_seeds`` (seeds that have the cell)."""
    frame = summary.mean[KEYS].copy()
    for c in summary.columns:
        frame[f"{c}_mean"] = summary.mean[c]
        frame[f"{c}_sd"] = summary.sd[c]
        frame[f"{c}_seeds"] = ["" if math.isnan(v) else str(int(v)) for v in summary.count[c]]
    return csv_text(frame)


def write_seed_summary_files(summary: SeedSummary, out_dir: Path, describe: str) -> dict[str, Path]:
    """Write ``<name>_mean_sd.{csv,md}``: every cell's mean ± sample sd over the seeds that have it.

    Args:
        summary: the table across seeds.
        out_dir: destination folder (``results/tables``).
        describe: which records these are (the filters and seeds), printed in the title.

    Returns:
        File name -> written path.
    """
    name, columns, total = summary.name, summary.columns, len(summary.seeds)
    keys = row_keys(summary.mean)
    counts = _summary_counts(summary)
    column_ns = column_counts(keys, columns, counts)
    heads = [column_head(c, column_ns[c]) for c in columns]
    frames = {k: getattr(summary, k).set_index(KEYS) for k in ("mean", "sd", "count", "clean_mean", "clean_sd")}
    partial = []

    def cell_text(mean: str, sd: str, marked: bool) -> Callable[[tuple, str], str]:
        def cell(key: tuple, column: str) -> str:
            count = frames["count"].at[key, column]
            if math.isnan(count) or count == 0:
                return "—"
            if marked and count < total and (*key, column) not in partial:
                partial.append((*key, column))
            dagger = DAGGER if marked and (*key, column) in summary.deviations else ""
            spread = fmt(frames[sd].at[key, column], 3, "n/a")
            return (f"{fmt(frames[mean].at[key, column], 3)}{dagger} ± {spread} ({int(count)}/{total})"
                    f"{n_suffix(column_ns[column], counts(key, column))}")
        return cell

    grid = cell_grid(keys, columns, cell_text("mean", "sd", True))
    clean_grid = cell_grid(keys, columns, cell_text("clean_mean", "clean_sd", False))
    partial_note = ("Cells present in only some seeds (mean and sd over those): " + "; ".join(
        f"{c[4]} {c[1]} {c[2]} {c[3]} ({int(frames['count'].at[c[:4], c[4]])} of {total})" for c in partial) + "."
                    if partial else f"Every cell with a value is present in all {total} seeds.")
    intro = [f"Each cell: mean ± sample sd (ddof 1) over the seeds that have the cell (k/S: the cell is in k of the "
             f"S = {total} seeds; sd n/a with one seed). Column headers give n, the test images each seed's value "
             "is over (Clean: the whole test split; an attack column: the attacked images only). "
             "Per-seed tables with bootstrap intervals: `seed<k>/`."]
    what = table_what(summary.mean["setting"].iloc[0])
    document = markdown_document(
        f"Table {table_number(name)} across seeds, mean ± sd. {what} ({describe})",
        [("", intro, markdown_grid(summary.mean, columns, heads, grid)),
         (CLEAN_SAME_TITLE, ["Mean ± sd of the target's clean figure on the same images as the cell above."],
          markdown_grid(summary.mean, columns, heads, clean_grid))],
        ["— : no seed has this cell.", partial_note, *dagger_note(_summary_deviations(summary)),
         *attack_notes(columns), f"Machine-readable: `{name}_mean_sd.csv` (`<column>_mean`, `<column>_sd`, "
                                  "`<column>_seeds`); each seed's table: `seed<k>/{name}.csv`."])
    texts = {f"{name}_mean_sd.csv": _summary_csv(summary), f"{name}_mean_sd.md": document}
    return write_texts(Path(out_dir), texts)
