"""Our table against the published one: per-cell differences and their mean.

A cell whose attack ran weaker than the paper's (``comparable_with_paper`` false) is kept in the
long format but flagged, and left out of the mean difference (see :func:`mean_absolute_difference`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxrbench.protocols.paper.tables import KEYS, PaperTable


def comparison(table: PaperTable) -> pd.DataFrame:
    """Long format, one row per cell: ours, published, ``difference = ours - published``, comparable.

    ``comparable`` is ``"true"`` / ``"false"`` for a cell we have (false: its attack is weaker than
    the paper's, see :attr:`PaperTable.deviations`) and empty where we have none.
    """
    rows = []
    for (_, ours), (_, published) in zip(table.values.iterrows(), table.published.iterrows()):
        key = tuple(ours[k] for k in KEYS)
        for column in table.columns:
            value, reference = float(ours[column]), float(published[column])
            comparable = "" if math.isnan(value) else str(table.comparable(key, column)).lower()
            rows.append({**dict(zip(KEYS, key)), "column": column, "ours": value, "published": reference,
                         "difference": value - reference, "comparable": comparable})
    frame = pd.DataFrame(rows, columns=[*KEYS, "column", "ours", "published", "difference", "comparable"])
    frame["difference"] = frame["difference"].astype(float)  # NaN where ours is missing
    return frame


@dataclass(frozen=True)
class MeanDifference:
    """Mean |ours - published| over the comparable cells we have.

    Attributes:
        value: the mean (NaN when no cell is used).
        used: how many cells it is over.
        left_out: cells we have that were left out because their attack is weaker than the paper's.
    """

    value: float
    used: int
    left_out: int


def mean_absolute_difference(frame: pd.DataFrame) -> MeanDifference:
    """Mean |ours - published| over the cells of :func:`comparison` that we have and that are comparable.

    A cell whose attack was weakened (``comparable`` false) would make our numbers look closer to or
    further from the paper for a reason that is not the replication, so it is left out and counted.
    """
    present = frame.dropna(subset=["difference"])
    comparable = present[present["comparable"] != "false"]["difference"].to_numpy()
    return MeanDifference(float(np.abs(comparable).mean()) if len(comparable) else math.nan, int(len(comparable)),
                          int(len(present) - len(comparable)))
