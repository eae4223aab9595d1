"""The multi-label transfer table across seeds: every (metric, k, source, target) cell as mean ± sd.

One file per (pooling, attack) that more than one seed has, ``tables/multilabel/transfer_k-<pooling>-
seeds<a-b-c>-<reference>-<loss>.{md,csv,tex}``. Each seed trains its own models and draws its own
test subset, so a cell's spread is over both; a seed whose cell is missing (a model it did not train)
is left out of that cell's mean and the cell says over how many seeds it is. The seeds' per-seed
tables stay beside it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.reporting.matrix import labels, matrix_values, model_order
from cxrbench.reporting.table_format import fmt, write_table


def _mean_sd(values: list[float], seeds: int) -> str:
    present = [v for v in values if not np.isnan(v)]
    if not present:
        return ""
    sd = f" ± {np.std(present, ddof=1):.3f}" if len(present) > 1 else ""
    count = f" ({len(present)} seeds)" if len(present) < seeds else ""
    return f"{fmt(float(np.mean(present)), 3)}{sd}{count}"


def transfer_seed_table(cells: pd.DataFrame, metrics: dict[str, str],
                        ks: tuple[str, ...]) -> tuple[pd.DataFrame, list[int]]:
    """Rows metric × k × source (then each target's clean figure), columns targets; cells mean ± sd.

    ``cells``: the untargeted cells of one (pooling, reference, loss) over several seeds (only those
    at the budget the models were crossed at are read); ``metrics``: column prefix -> label (``k`` ours, ``p``
    Definition 1, ``c`` k-consistency); ``ks``: the k of the columns. Returns the table and its seeds.
    """
    seeds = sorted(int(s) for s in cells["seed"].unique())
    budget = cells[cells["source"] != cells["model"]][["epsilon", "steps"]].drop_duplicates()
    cells = cells.merge(budget, on=["epsilon", "steps"])
    sources, targets = model_order(cells["source"]), model_order(cells["model"])
    lines = []
    for m, name in metrics.items():
        for k in ks:
            per_seed = []
            for seed in seeds:
                part = cells[cells["seed"] == seed]
                clean = part.drop_duplicates("model").set_index("model")
                rows = [matrix_values(part, f"{m}{k}", sources, targets)]
                if m != "c":  # k-consistency of the clean output with itself is 1: no clean row
                    rows.append([[clean[f"clean_{m}{k}"].get(t, np.nan) for t in targets]])
                per_seed.append(np.vstack(rows))
            stacked = np.stack(per_seed)
            for i, row_label in enumerate(labels(sources) + (["clean"] if m != "c" else [])):
                lines.append({"metric": name, "k": k, "crafted on": row_label,
                              **{labels([t])[0]: _mean_sd(list(stacked[:, i, j]), len(seeds))
                                 for j, t in enumerate(targets)}})
    return pd.DataFrame(lines), seeds


def write_transfer_seeds(out: Path, attacked: pd.DataFrame, metrics: dict[str, str],
                         ks: tuple[str, ...]) -> dict[str, Path]:
    """Write the across-seed transfer table of every (pooling, reference, loss) more than one seed has."""
    written: dict[str, Path] = {}
    untargeted = attacked[attacked["evaluation"] == "untargeted"]
    for (pooling, reference, loss), group in untargeted.groupby(["pooling", "reference", "loss"]):
        crossed = group[group["source"] != group["model"]]
        if crossed.empty or group.merge(crossed[["epsilon", "steps"]].drop_duplicates())["seed"].nunique() < 2:
            continue
        table, seeds = transfer_seed_table(group, metrics, ks)
        budgets = crossed[["epsilon", "steps"]].drop_duplicates()
        budget = ", ".join(f"ε = {e * 255:g}/255, {int(s)} steps" for e, s in budgets.itertuples(index=False))
        n = sorted(group["n"].unique())
        notes = [f"{pooling} pooling, mean ± sample sd over seeds {seeds} (each seed trains its own models and "
                 f"draws its own seeded test subset of n = {'/'.join(str(int(v)) for v in n)} images); a cell "
                 "fewer seeds have says how many.",
                 "Diagonal: white-box; clean: the column model on the same images unattacked. Metrics as in the "
                 "per-seed tables beside this one."]
        title = (f"Multi-label robustness under transferred untargeted PGD ({loss.upper()}, away from the "
                 f"{reference}), {budget}: crafted on the row model, tested on the column model")
        stem = f"transfer_k-{pooling}-seeds{'-'.join(map(str, seeds))}-{reference}-{loss}"
        written.update(write_table(out, stem, table, notes, title, text_columns=3))
    return written
