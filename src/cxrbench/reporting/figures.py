"""What every figure shares: the non-interactive backend, byte-stable PNG and PDF files, notes below the axes."""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cxrbench.io import atomic_write  # noqa: E402
from cxrbench.reporting.labels import variant_label  # noqa: E402,F401  (the figures' name of a variant)


def save_figure(fig: plt.Figure, out_dir: Path, stem: str) -> dict[str, Path]:
    """Write ``stem.png`` and ``stem.pdf`` atomically, without creation dates (same records, same bytes)."""
    paths = {}
    for fmt, metadata in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
        path = Path(out_dir) / f"{stem}.{fmt}"
        atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=150, metadata=metadata))
        paths[f"{stem}.{fmt}"] = path
    plt.close(fig)
    return paths


def add_notes(fig: plt.Figure, notes: list[str], width: int = 160) -> None:
    """What is missing, printed under the plot (the figure still renders)."""
    if notes:
        text = "\n".join(textwrap.fill(n, width) for n in notes)
        fig.text(0.01, 0.005, text, fontsize=6.5, va="bottom", ha="left", color="dimgray")
