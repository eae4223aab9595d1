"""The paper's table layout: one row per published row key (pooling and model shown only where they
change), one column per published column, attack families grouped in LaTeX; Markdown and booktabs text.
"""
from __future__ import annotations

from typing import Callable

import pandas as pd

from cxrbench.attacks import get_attack_spec
from cxrbench.protocols.paper.tables import CLEAN, KEYS, attack_columns
from cxrbench.reporting.table_format import latex_escape  # noqa: F401  (part of the layout's text)

_METRIC_LABEL = {"acc": "Acc.", "auc": "AU"}  # the paper's row labels


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


def row_keys(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(row) for row in frame[KEYS].itertuples(index=False)]


# --- grids ---------------------------------------------------------------------------------------

def cell_grid(keys: list[tuple], columns: list[str], cell: Callable[[tuple, str], str]) -> list[list[str]]:
    """Cell texts in the table's layout; ``cell`` gets the row keys and the column."""
    return [[cell(key, c) for c in columns] for key in keys]


def markdown_grid(frame: pd.DataFrame, columns: list[str], heads: list[str], cells: list[list[str]]) -> list[str]:
    """The lines of one Markdown grid in the paper's layout (``frame`` gives the row keys)."""
    lines = ["| " + " | ".join(["Pooling", "Model", "Metric", *heads]) + " |",
             "|" + "---|" * 3 + "---:|" * len(columns)]
    for labels, row in zip(_row_labels(frame), cells):
        lines.append("| " + " | ".join([*labels, *row]) + " |")
    return lines


def markdown_document(title: str, sections: list[tuple[str, list[str], list[str]]], notes: list[str]) -> str:
    """``# title``, then per section an optional ``## heading``, intro lines and a grid, then notes."""
    lines = [f"# {title}"]
    for heading, intro, grid in sections:
        lines += [""] + ([f"## {heading}", ""] if heading else []) + intro + ([""] if intro else []) + grid
    lines += ["", *notes]
    return "\n".join(lines) + "\n"


def attack_notes(columns: list[str]) -> list[str]:
    attacks = [c for c in columns if c != CLEAN]
    families = "; ".join(f"{f}: {w} attacks" for f, w in _families(attacks))
    return [f"Attacks: {_legend(attacks)} ({families})."]


def latex_table(name: str, frame: pd.DataFrame, columns: list[str], cells: list[list[str]], caption: str) -> str:
    """A booktabs ``table`` in the paper's layout, families grouped over their columns."""
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
             f"\\caption{{{caption}}}", f"\\label{{tab:{name}}}",
             f"\\begin{{tabular}}{{lll{'r' * len(columns)}}}", "\\toprule"]
    if groups:
        lines += [lead + " & ".join(groups) + " \\\\", "".join(rules)]
    lines += [" & ".join(head) + " \\\\", "\\midrule"]
    for labels, row in zip(_row_labels(frame), cells):
        lines.append(" & ".join([*labels, *row]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"
