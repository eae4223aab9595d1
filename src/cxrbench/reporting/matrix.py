"""Source × target matrices of any set of models: their order, labels, values and heat maps.

The binary transfer matrices (paper protocol) and the multi-label k-robust transfer table
(Ghamizi et al.'s Table 2) are both drawn with these.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.models import get_model_spec, list_models
from cxrbench.reporting.figures import add_notes, plt, save_figure


def model_order(names) -> list[str]:
    """The paper's pair first, then the other registered models, each in registry order."""
    order = list_models(in_paper=True) + list_models(in_paper=False)
    return sorted(set(names), key=lambda m: order.index(m) if m in order else len(order))


def labels(models: list[str]) -> list[str]:
    """The registry's table labels of ``models``."""
    return [get_model_spec(m).paper_id for m in models]


def heat_maps(panels: dict[str, np.ndarray], rows: list[str], columns: list[str], note: str, out_dir: Path,
              stem: str) -> dict[str, Path]:
    """Source × target matrices side by side (values in [0, 1]), each cell annotated, under the given labels."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 0.6 * len(columns), 3.4), squeeze=False)
    for ax, (title, values) in zip(axes[0], panels.items()):
        image = ax.imshow(values, vmin=0, vmax=1, cmap="RdYlGn")
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, "" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(columns)), columns)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel("tested on")
        ax.set_ylabel("crafted on")
        ax.set_title(title, fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    add_notes(fig, [note], width=90)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return save_figure(fig, out_dir, stem)


def matrix_values(cells: pd.DataFrame, column: str, sources: list[str], targets: list[str]) -> np.ndarray:
    """``cells[column]`` laid out source × target (NaN where a pair has no cell)."""
    values = np.full((len(sources), len(targets)), np.nan)
    for source, target, value in zip(cells["source"], cells["model"], cells[column]):
        values[sources.index(source), targets.index(target)] = value
    return values
