"""Write a :class:`~cxrbench.reporting.tables.PaperTable` as CSV, Markdown and LaTeX.

Output is byte-deterministic for the same records: fixed float formats, no timestamps, ``\\n``
line ends. Precision: CSV 4 decimals (for analysis), Markdown 3, LaTeX 2 (the paper's). A cell
without a value is empty in CSV and an em dash in Markdown (``—``) and LaTeX (``---``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import pandas as pd

from cxrbench.attacks import get_attack_spec
from cxrbench.reporting.io import atomic_write_text
from cxrbench.reporting.tables import CLEAN, KEYS, PaperTable, attack_columns, comparison, mean_absolute_difference

_METRIC_LABEL = {"acc": "Acc.", "auc": "AU"}  # the paper's row labels
_SETTING_TITLE = {"white-box": "white-box", "black-box": "black-box (crafted on the other architecture)"}


def fmt(value: float, digits: int, missing: str = "", sign: bool = False) -> str:
    """``value`` with ``digits`` decimals; ``missing`` for NaN; never ``-0.000``."""
    if value is None or math.isnan(value):
        return missing
    rounded = round(float(value), digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{rounded:+.{digits}f}" if sign else f"{rounded:.{digits}f}"


def csv_text(frame: pd.DataFrame, digits: int = 4) -> str:
    """``frame`` as CSV: string columns as they are, float columns with ``digits`` decimals."""
    lines = [",".join(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append(",".join(v if isinstance(v, str) else fmt(v, digits) for v in row))
    return "\n".join(lines) + "\n"


def _families(columns: list[str]) -> list[tuple[str, int]]:
    """Runs of consecutive attack columns of one family: (family, width)."""
    runs: list[tuple[str, int]] = []
    for attack in attack_columns(columns).values():
        family = get_attack_spec(attack).family
        if runs and runs[-1][0] == family:
            runs[-1] = (family, runs[-1][1] + 1)
        else:
            runs.append((family, 1))
    return runs


def _legend(columns: list[str]) -> str:
    return ", ".join(f"{c} {get_attack_spec(a).title}" for c, a in attack_columns(columns).items())


def _row_labels(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Pooling and model labels shown only where they change, as in the paper."""
    labels, previous = [], (None, None)
    for row in frame.itertuples(index=False):
        labels.append((row.pooling if row.pooling != previous[0] else "",
                       row.model if (row.pooling, row.model) != previous else "", _METRIC_LABEL[row.metric]))
        previous = (row.pooling, row.model)
    return labels


def markdown_table(table: PaperTable, cells: list[list[str]], title: str, notes: list[str]) -> str:
    """A Markdown grid in the paper's layout with the given cell texts (one list per row)."""
    columns = table.columns
    attacks = [c for c in columns if c != CLEAN]
    head = ["Pooling", "Model", "Metric", *("Clean" if c == CLEAN else c for c in columns)]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * len(columns)]
    for labels, row in zip(_row_labels(table.values), cells):
        lines.append("| " + " | ".join([*labels, *row]) + " |")
    families = "; ".join(f"{f}: {w} attacks" for f, w in _families(attacks))
    lines += ["", f"Attacks: {_legend(attacks)} ({families}).", *notes]
    return "\n".join(lines) + "\n"


def latex_table(table: PaperTable, cells: list[list[str]], caption: str) -> str:
    """A booktabs ``table`` in the paper's layout, families grouped over their columns."""
    columns = table.columns
    attacks = [c for c in columns if c != CLEAN]
    first = 3 + columns.index(attacks[0]) + 1 if attacks else 0  # 1-based column of the first attack
    groups, rules, at = [], [], first
    for family, width in _families(attacks):
        groups.append(f"\\multicolumn{{{width}}}{{c}}{{{family.capitalize()}}}")
        rules.append(f"\\cmidrule(lr){{{at}-{at + width - 1}}}")
        at += width
    lead = " & " * (first - 1)
    head = ["Pool.", "Model", "Metric", *("Clean" if c == CLEAN else c for c in columns)]
    lines = ["% requires \\usepackage{booktabs}", "\\begin{table}[t]", "\\centering",
             f"\\caption{{{caption}}}", f"\\label{{tab:{table.name}}}",
             f"\\begin{{tabular}}{{lll{'r' * len(columns)}}}", "\\toprule"]
    if groups:
        lines += [lead + " & ".join(groups) + " \\\\", "".join(rules)]
    lines += [" & ".join(head) + " \\\\", "\\midrule"]
    for labels, row in zip(_row_labels(table.values), cells):
        lines.append(" & ".join([*labels, *row]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def _grid(table: PaperTable, cell: Callable[[tuple, str], str]) -> list[list[str]]:
    """Cell texts in the table's layout; ``cell`` gets the row keys and the column."""
    return [[cell(tuple(row), c) for c in table.columns] for row in table.values[KEYS].itertuples(index=False)]


def write_table_files(table: PaperTable, out_dir: Path, describe: str) -> dict[str, Path]:
    """Write ``<name>.{csv,md,tex}``, ``<name>_ci.{csv,tex}`` and ``comparison_tableN.{csv,md}``.

    Args:
        table: the filled table.
        out_dir: destination folder (``results/tables``).
        describe: which records these are (the filters), printed in titles and captions.

    Returns:
        File name -> written path.
    """
    name = table.name
    number = name[len("table"):name.index("_")]
    what = f"Accuracy (Acc.) and ROC-AUC (AU) under {_SETTING_TITLE[table.values['setting'].iloc[0]]} attacks"
    values = table.values.set_index(KEYS)
    ci = table.ci.set_index(KEYS)
    diff = comparison(table)
    mad, present = mean_absolute_difference(diff)
    diff = diff.set_index([*KEYS, "column"])

    def with_interval(key: tuple, column: str) -> str:
        if math.isnan(values.at[key, column]):
            return "---"
        lo, hi = (fmt(ci.at[key, f"{column}_{end}"], 2, "?") for end in ("lo", "hi"))
        return f"${fmt(values.at[key, column], 2)}_{{{lo}}}^{{{hi}}}$"

    def versus(key: tuple, column: str) -> str:
        cell = diff.loc[(*key, column)]
        delta = "" if math.isnan(cell["difference"]) else f" ({fmt(cell['difference'], 3, sign=True)})"
        return f"{fmt(cell['ours'], 3, '—')} / {fmt(cell['published'], 2)}{delta}"

    texts = {
        f"{name}.csv": csv_text(table.values),
        f"{name}.md": markdown_table(
            table, _grid(table, lambda k, c: fmt(values.at[k, c], 3, "—")), f"Table {number}. {what} ({describe})",
            ["", f"— : no record for this cell. 95% percentile-bootstrap intervals (stratified by label): "
                f"`{name}_ci.csv`, columns `<column>_lo`, `<column>_hi`."]),
        f"{name}.tex": latex_table(table, _grid(table, lambda k, c: fmt(values.at[k, c], 2, "---")),
                                   f"{what}, ours ({describe}). ---: no record."),
        f"{name}_ci.csv": csv_text(table.ci),
        f"{name}_ci.tex": latex_table(
            table, _grid(table, with_interval),
            f"{what}, ours ({describe}), with 95\\% percentile-bootstrap intervals over test images "
            "(stratified by label): value$_{\\mathrm{low}}^{\\mathrm{high}}$. ---: no record."),
        f"comparison_table{number}.csv": csv_text(diff.reset_index()),
        f"comparison_table{number}.md": markdown_table(
            table, _grid(table, versus), f"Table {number}, ours / published (ours − published): {what} ({describe})",
            ["", f"Mean |ours − published| over the {present} of {len(diff)} cells we have: {fmt(mad, 3, '—')}."]),
    }
    return {file: atomic_write_text(Path(out_dir) / file, text) for file, text in texts.items()}
