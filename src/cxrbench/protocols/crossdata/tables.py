"""The cross-dataset table (Ghamizi et al. 2022's Table 3), from the records alone.

One table per (model, pooling, seed, attack budget) under ``tables/crossdata/`` (``.md``, ``.csv``,
``.tex``): rows the dataset the model was trained on, columns the dataset the attacked images come
from, numbered as theirs (D1 ChestX-ray14, D2 CheXpert, D3 PadChest; others after). Each cell reads
``clean → under white-box PGD`` for k-robust accuracy at k = 1 and 3 (ours and Definition 1) and
macro AUC, then the images (with a finding) and how many labels were scored; the notes name the
shared labels of every pair. ``crossdata_cells.csv`` holds every cell in long form. The data filter
of ``scripts/report.py`` does not apply: a cross-dataset table spans datasets by design.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from cxrbench.data.labels import NIH_LABELS
from cxrbench.models import get_model_spec
from cxrbench.records.store import load_records, newest
from cxrbench.reporting.table_format import csv_text, fmt, write_table, write_texts

#: What one cell is; a rerun of it replaces the older record.
_CELL = ("seed", "pooling", "model", "train_on", "test_on", "loss", "epsilon", "steps")
_TABLE = ("seed", "pooling", "model", "loss", "epsilon", "steps")
#: Their Table 3's numbering (D1-D3); datasets they did not use follow, by name.
PAPER_ORDER = ("nih", "chexpert", "padchest")
NAMES = {"nih": "ChestX-ray14", "chexpert": "CheXpert", "padchest": "PadChest", "siim": "SIIM-ACR"}
#: Row label -> (clean column, attacked column) of :func:`crossdata_cells`.
METRICS = {"k=1 k-robust": "k1", "k=3 k-robust": "k3", "k=1 k-robust (Def. 1)": "p1",
           "k=3 k-robust (Def. 1)": "p3", "macro AUC": "auc"}


def _row(r: dict) -> dict:
    clean = r["clean"] or {}
    row = {**{key: r[key] for key in _CELL}, "n": r["images"], "with_finding": r["images_with_finding"],
           "n_shared": r["n_shared"], "shared_labels": " ".join(r["shared_labels"]),
           "auc": r["macro_auc"], "clean_auc": clean.get("macro_auc", float("nan")),
           "mlacc": r["mlacc"], "clean_mlacc": clean.get("mlacc", float("nan"))}
    for k in ("1", "3"):
        row.update({f"k{k}": r["k_accuracy"].get(k, float("nan")), f"p{k}": r["k_accuracy_paper"].get(k, float("nan")),
                    f"clean_k{k}": clean.get("k_accuracy", {}).get(k, float("nan")),
                    f"clean_p{k}": clean.get("k_accuracy_paper", {}).get(k, float("nan"))})
    return row


def crossdata_cells(results_dir: Path) -> pd.DataFrame:
    """One line per cross-dataset cell (the newest record of each) with its clean and attacked figures."""
    # Every data source at once: a cell's record carries its test data, and the table spans datasets.
    chosen = newest(load_records(Path(results_dir) / "records", kinds=("crossdata",)), _CELL)
    return pd.DataFrame([_row(r) for r in chosen.values()])


def dataset_order(names) -> list[str]:
    """``names`` in their Table 3's order, then the others by name."""
    present = set(names)
    return [n for n in PAPER_ORDER if n in present] + sorted(present - set(PAPER_ORDER))


def dataset_label(name: str) -> str:
    """``D2 CheXpert``: the number their Table 3 gives it (others after theirs) and its name."""
    order = list(PAPER_ORDER) + sorted(set(NAMES) - set(PAPER_ORDER))
    number = order.index(name) + 1 if name in order else len(order) + 1
    return f"D{number} {NAMES.get(name, name)}"


def crossdata_table(group: pd.DataFrame) -> pd.DataFrame:
    """Rows trained-on × metric, columns tested-on; each cell ``clean → attacked``, then n and labels."""
    tests = dataset_order(group["test_on"])
    cells = group.set_index(["train_on", "test_on"])
    lines = []
    for train_on in dataset_order(group["train_on"]):
        for label, column in METRICS.items():
            line = {"trained on": NAMES.get(train_on, train_on), "metric": label}
            for test_on in tests:
                if (train_on, test_on) in cells.index:
                    c = cells.loc[(train_on, test_on)]
                    clean, attacked = fmt(c[f"clean_{column}"], 3, "n/a"), fmt(c[column], 3, "n/a")
                    line[dataset_label(test_on)] = f"{clean} → {attacked}"
                else:
                    line[dataset_label(test_on)] = ""
            lines.append(line)
        line = {"trained on": NAMES.get(train_on, train_on), "metric": "n (with a finding), labels scored"}
        for test_on in tests:
            c = cells.loc[(train_on, test_on)] if (train_on, test_on) in cells.index else None
            line[dataset_label(test_on)] = "" if c is None else f"{c['n']} ({c['with_finding']}), {c['n_shared']}"
        lines.append(line)
    return pd.DataFrame(lines)


def _shared_note(group: pd.DataFrame) -> str:
    """Which labels each pair scored, pairs with the same labels together (rows first, in table order)."""
    rank = {name: i for i, name in enumerate(dataset_order(set(group["train_on"]) | set(group["test_on"])))}
    ordered = group.sort_values(["train_on", "test_on"], key=lambda column: column.map(rank))
    parts = []
    for labels, pairs in ordered.groupby("shared_labels", sort=False):
        names = labels.split()
        what = "all 14 ChestX-ray14 labels" if len(names) == len(NIH_LABELS) else ", ".join(names)
        listed = ", ".join(f"{NAMES.get(a, a)} → {NAMES.get(b, b)}" for a, b in zip(pairs["train_on"], pairs["test_on"]))
        parts.append(f"{len(names)} ({what}): {listed}")
    return "Labels scored (those both datasets label; the model's other outputs are ignored): " + "; ".join(parts) + "."


def _notes(group: pd.DataFrame, model: str, pooling: str, seed: int, loss: str) -> list[str]:
    return [f"{get_model_spec(model).paper_id} ({model}), {pooling} pooling, seed {seed}, trained (task=multilabel) "
            "on the row dataset; its per-label thresholds come from that dataset's validation split.",
            f"Each cell: clean → under white-box untargeted PGD ({loss.upper()} ascended away from the ground-truth "
            "findings; per image the latest iterate no better than the clean image at any k), source and target the "
            "same model, as in their Table 3; on a seeded stratified subset of the column dataset's test split.",
            "k-robust: ours, mean over the images with a finding (among the scored labels) of |top-k predicted ∩ "
            "findings| / min(k, #findings); Def. 1: Ghamizi et al.'s Definition 1 over all n images. n/a: no image "
            "with a finding, or a macro AUC without both classes of any label.",
            _shared_note(group)]


def render_crossdata(results_dir: Path, *, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Write every cross-dataset table and the long-form cells; nothing when there are no records."""
    results_dir = Path(results_dir)
    cells = crossdata_cells(results_dir)
    if cells.empty:
        log("crossdata: no records; run scripts/run.py experiment=crossdata_quick first")
        return {}
    out, written = results_dir / "tables" / "crossdata", {}
    for (seed, pooling, model, loss, epsilon, steps), group in cells.groupby(list(_TABLE)):
        budget = f"ε = {epsilon * 255:g}/255, {int(steps)} steps"
        title = (f"Across datasets (Ghamizi et al. 2022, Table 3): {get_model_spec(model).paper_id} trained on the row "
                 f"dataset, tested clean → under white-box PGD ({budget}) on the column dataset")
        stem = f"crossdata-{model}-{pooling}-seed{seed}-{loss}-eps{epsilon * 255:g}-steps{int(steps)}"
        written.update(write_table(out, stem, crossdata_table(group), _notes(group, model, pooling, seed, loss),
                                   title))
    counts = {name: str for name in ("seed", "n", "with_finding", "n_shared", "steps")}
    written.update(write_texts(out, {"crossdata_cells.csv": csv_text(cells.astype(counts))}))
    log(f"crossdata: {len(cells)} cells -> {out}")
    return written
