"""What every table file states besides its values: titles, image counts per column, weakened attacks.

The Clean column is over the whole test split while an attack column may be over a subset, so
headers (and, where a column mixes counts, cells) give n. A cell whose attack was weakened
against the paper's is marked ``†`` with its deviations as a footnote.
"""
from __future__ import annotations

from typing import Callable, Iterable

from cxrbench.protocols.paper.tables import CLEAN, CellKey

_SETTING_TITLE = {"white-box": "white-box", "black-box": "black-box (crafted on the other architecture)"}
DAGGER = "†"
CLEAN_SAME_TITLE = "Clean accuracy / AUC of the target on each column's attacked images"


def table_what(setting: str) -> str:
    return f"Accuracy (Acc.) and ROC-AUC (AU) under {_SETTING_TITLE[setting]} attacks"


def table_number(name: str) -> str:
    return name[len("table"):name.index("_")]


# --- image counts per column ----------------------------------------------------------------------

CellCounts = Callable[[tuple, str], list[int]]  # (row keys, column) -> the distinct n of that cell


def column_counts(keys: list[tuple], columns: list[str], counts: CellCounts) -> dict[str, list[int]]:
    """Column -> the distinct image counts of its cells (one value: the header can state it)."""
    return {c: sorted({n for key in keys for n in counts(key, c)}) for c in columns}


def column_head(column: str, ns: list[int]) -> str:
    label = "Clean" if column == CLEAN else column
    if not ns:
        return label
    return f"{label} (n={ns[0]})" if len(ns) == 1 else f"{label} (n varies)"


def n_suffix(column_ns: list[int], cell_ns: list[int]) -> str:
    """`` (n=20)`` after a cell whose column mixes image counts; nothing where the header says it."""
    return f" (n={'/'.join(map(str, cell_ns))})" if len(column_ns) > 1 and cell_ns else ""


# --- deviations ----------------------------------------------------------------------------------

def deviation_text(deviations: dict) -> str:
    """``R 3 instead of 150, steps 50 instead of 1000`` from a record's ``deviations``."""
    parts = [f"{param} {d.get('used') if isinstance(d, dict) else d} instead of "
             f"{d.get('paper') if isinstance(d, dict) else '?'}" for param, d in sorted(deviations.items())]
    return ", ".join(parts) if parts else "parameters differ from the paper's"


def cell_variant(cell: CellKey) -> str:
    return f"{cell[1]} {cell[2]}"  # pooling model, e.g. MP IR2 (both metrics share one record)


def deviation_lines(items: Iterable[tuple[CellKey, str, str]]) -> list[str]:
    """One line per (column, deviation) with the variants (and seeds) it applies to."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for cell, text, where in items:
        labels = grouped.setdefault((cell[-1], text), [])
        if where not in labels:
            labels.append(where)
    return [f"{column} ({', '.join(where)}): {text}" for (column, text), where in grouped.items()]


def dagger_note(lines: list[str]) -> list[str]:
    if not lines:
        return []
    return [f"{DAGGER} : the attack ran with parameters that make it weaker than the paper's, so the cell is not "
            "comparable with the published one: " + "; ".join(lines) + "."]
