"""Text of every table: numbers, CSV, plain Markdown and LaTeX, and the guarded write of a table's files.

Output is byte-deterministic for the same input: fixed float formats, no timestamps, ``\\n``
line ends. The paper's grid layout lives with the paper protocol (:mod:`cxrbench.protocols.paper.table_grid`).
"""
from __future__ import annotations

import contextlib
import contextvars
import csv
import io
import math
from pathlib import Path
from typing import Iterator

import pandas as pd

from cxrbench.errors import OutputError
from cxrbench.io import atomic_write_text


def fmt(value: float, digits: int, missing: str = "", sign: bool = False) -> str:
    """``value`` with ``digits`` decimals; ``missing`` for NaN; never ``-0.000``."""
    if value is None or math.isnan(value):
        return missing
    rounded = round(float(value), digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{rounded:+.{digits}f}" if sign else f"{rounded:.{digits}f}"


def csv_text(frame: pd.DataFrame, digits: int = 4) -> str:
    """``frame`` as CSV: string columns as they are, float columns with ``digits`` decimals.

    A field holding a comma or a quote (an interval ``0.60 [0.31, 0.83]``) is quoted, as CSV readers expect.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([str(c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        writer.writerow([v if isinstance(v, str) else fmt(v, digits) for v in row])
    return out.getvalue()


def latex_escape(text: str) -> str:
    for char in ("\\", "&", "%", "$", "#", "_", "{", "}"):
        text = text.replace(char, "\\" + char if char != "\\" else "\\textbackslash{}")
    return text


def plain_markdown(frame: pd.DataFrame, notes: list[str], title: str) -> str:
    """``frame`` (string cells) as a titled Markdown table with its notes as a list below."""
    head = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([f"# {title}", "", head, rule, *body, "", *(f"- {n}" for n in notes)]) + "\n"


def plain_latex(frame: pd.DataFrame, title: str, label: str, text_columns: int = 2) -> str:
    """``frame`` (string cells) as a booktabs table; the first ``text_columns`` left-aligned."""
    align = "l" * text_columns + "r" * (len(frame.columns) - text_columns)
    lines = ["% requires \\usepackage{booktabs}", "\\begin{table}[t]", "\\centering",
             f"\\caption{{{latex_escape(title)}}}", f"\\label{{tab:{label}}}", f"\\begin{{tabular}}{{{align}}}",
             "\\toprule", " & ".join(latex_escape(c) for c in frame.columns) + " \\\\", "\\midrule"]
    lines += [" & ".join(latex_escape(str(v)) for v in row) + " \\\\" for row in frame.itertuples(index=False)]
    return "\n".join(lines + ["\\bottomrule", "\\end{tabular}", "\\end{table}"]) + "\n"


def write_table(out_dir: Path, stem: str, frame: pd.DataFrame, notes: list[str], title: str,
                text_columns: int = 2) -> dict[str, Path]:
    """Write ``stem.md``, ``stem.csv`` and ``stem.tex`` of one table atomically; return their paths."""
    texts = {f"{stem}.md": plain_markdown(frame, notes, title), f"{stem}.csv": csv_text(frame),
             f"{stem}.tex": plain_latex(frame, title, stem, text_columns)}
    return write_texts(out_dir, texts)


# --- the guard every table file passes: a render never replaces a table by a less complete one ---------

#: Set by ``make_tables.py --replace``. A context variable rather than an argument: every table writer
#: (Tables 1-2, mean ± sd, robust, transfer, multi-label, studies) goes through :func:`write_texts`,
#: and threading a flag through each renderer's signature would touch them all for one decision.
_REPLACE: contextvars.ContextVar[bool] = contextvars.ContextVar("replace_tables", default=False)


@contextlib.contextmanager
def replacing_tables() -> Iterator[None]:
    """Within this block :func:`write_texts` overwrites tables even with less complete ones."""
    token = _REPLACE.set(True)
    try:
        yield
    finally:
        _REPLACE.reset(token)


def filled_cells(text: str) -> int:
    """How many fields below the header of CSV ``text`` hold a value (an empty field: no record)."""
    rows = list(csv.reader(io.StringIO(text)))
    return sum(1 for row in rows[1:] for field in row if field.strip())


def _existing(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):  # gone, or not text: nothing a render could lose
        return None


def write_texts(out_dir: Path, texts: dict[str, str]) -> dict[str, Path]:
    """Write the files of one table (name -> text) atomically, after checking that none loses cells.

    Each CSV among ``texts`` is compared with the file it would replace: one with more filled cells
    means the records behind this render are fewer (a filter, a deleted record, another seed), so the
    whole table (its Markdown and LaTeX too) is left as it is and the render stops. Checked before any
    file of the table is written, so a refused table is never half replaced.

    Raises:
        OutputError: an existing CSV has more filled cells; the message names it and how to proceed.
    """
    out_dir = Path(out_dir)
    if not _REPLACE.get():
        for name, text in texts.items():
            old = _existing(out_dir / name) if name.endswith(".csv") else None
            if old is not None and filled_cells(old) > filled_cells(text):
                raise OutputError(
                    f"refusing to replace {out_dir / name}: it has {filled_cells(old)} filled cells, this render "
                    f"only {filled_cells(text)} (it rests on fewer records); render with scripts/report.py "
                    "--replace to overwrite it, or delete it first")
    return {name: atomic_write_text(out_dir / name, text) for name, text in texts.items()}
