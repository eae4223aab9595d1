"""Source × target transfer matrices over any set of models, rendered from the attack records.

Every attack run crafts its attack on each model of ``grid.models`` and tests every crafted set on
every model (:func:`cxrbench.protocols.paper.attack.run_attack`); an attack record is one (source, target)
pair. A matrix gathers the records of one (training recipe, seed, pooling, regime, attack
configuration): rows are the model the adversarials were crafted on, columns the model they were
tested on, so the diagonal is white-box and the rest black-box; a last row gives each target's
clean figure on the same images. All models of one run share the training recipe, so the row and
column models of a matrix are trained alike. Two configurations of one attack (say the quick
profile and a fixed-ε PGD) are two matrices, never mixed.

Files: ``tables/transfer/<stem>-{accuracy,auc}.{md,csv,tex}`` (cells with 95% stratified-bootstrap
intervals), ``tables/transfer/transfer_cells.csv`` (one line per pair) and
``figures/transfer/<stem>.{png,pdf}`` (heat maps of both metrics). Labels come from the registries.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from cxrbench.attacks import get_attack_spec
from cxrbench.io import read_table
from cxrbench.models import get_model_spec
from cxrbench.protocols.paper.tables import POOLING_LABEL, STANDARD
from cxrbench.records.store import load_records, newest_per_cell
from cxrbench.reporting.bootstrap import bootstrap_metrics
from cxrbench.reporting.matrix import heat_maps, labels, matrix_values, model_order
from cxrbench.reporting.table_format import csv_text, fmt, write_table, write_texts

#: One matrix; reruns of one (source, target) pair of it resolve to the newest record.
_MATRIX = ("train", "seed", "pooling", "regime", "attack", "cell_key")
_CELL = (*_MATRIX, "source", "model")
METRICS = {"accuracy": "Accuracy", "auc": "ROC-AUC"}


def _with_train(record: dict) -> dict:
    return {**record, "train": record["config"]["train"]["name"]}


def transfer_cells(results_dir: Path, *, data: str | None = None, resamples: int = 1000) -> pd.DataFrame:
    """One line per (matrix, source, target): accuracy and AUC under attack with intervals, clean figures, n."""
    records = [_with_train(r) for r in load_records(Path(results_dir) / "records", kinds=("attack",))]
    chosen = newest_per_cell(records, _CELL, data=data, what="attack")
    rows = []
    for key, r in chosen.items():
        samples = read_table(Path(results_dir) / r["per_sample"], "per-image table", columns=["label", "adv_prob"])
        interval = bootstrap_metrics(samples["label"].to_numpy(), samples["adv_prob"].to_numpy(), resamples=resamples)
        rows.append({**dict(zip(_CELL, key)), "attack_id": r["attack_id"], "profile": r["profile"], "n": r["images"],
                     "accuracy": r["accuracy"], "accuracy_lo": interval["accuracy"].lo,
                     "accuracy_hi": interval["accuracy"].hi, "auc": r["auc"], "auc_lo": interval["auc"].lo,
                     "auc_hi": interval["auc"].hi, "clean_accuracy": r["clean_accuracy"], "clean_auc": r["clean_auc"],
                     "success_rate": r["success_rate"], "comparable_with_paper": r["comparable_with_paper"]})
    return pd.DataFrame(rows)


def matrix_stem(key: tuple, keys_of_attack: int) -> str:
    """``pgd-max-seed0-quick`` (plus the configuration digest when one attack ran several)."""
    train, seed, pooling, regime, attack, cell = key
    parts = [attack, pooling, *([regime] if regime != STANDARD else []), f"seed{seed}", train]
    return "-".join(parts + ([cell[:8]] if keys_of_attack > 1 else []))


def matrix_frame(group: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows ``crafted on`` (sources, then ``clean``) × columns tested on (targets), as interval texts."""
    targets = model_order(group["model"])
    label = {m: get_model_spec(m).paper_id for m in targets}
    lines = []
    for source in model_order(group["source"]):
        line = {"crafted on \\ tested on": get_model_spec(source).paper_id}
        for row in group[group["source"] == source].itertuples(index=False):
            value, lo, hi = getattr(row, metric), getattr(row, f"{metric}_lo"), getattr(row, f"{metric}_hi")
            line[label[row.model]] = f"{fmt(value, 3)} [{fmt(lo, 2)}, {fmt(hi, 2)}]" if value == value else ""
        lines.append(line)
    clean = {"crafted on \\ tested on": "clean"}
    for row in group.drop_duplicates("model").itertuples(index=False):
        clean[label[row.model]] = fmt(getattr(row, f"clean_{metric}"), 3)
    lines.append(clean)
    return pd.DataFrame(lines, columns=["crafted on \\ tested on", *label.values()]).fillna("")


def _title(group: pd.DataFrame, key: tuple, metric: str) -> str:
    train, seed, pooling, regime, attack, _ = key
    spec, first = get_attack_spec(attack), group.iloc[0]
    trained = "" if regime == STANDARD else f", {regime.upper()} trained"
    return (f"{METRICS[metric]} under {spec.paper_id} {spec.title} ({first.profile} profile) transferred between "
            f"models: {POOLING_LABEL.get(pooling, pooling)} pooling{trained}, {train} recipe, seed {seed}")


def heat_map(group: pd.DataFrame, key: tuple, out_dir: Path, stem: str) -> dict[str, Path]:
    """Accuracy and AUC matrices of one attack configuration side by side."""
    sources, targets = model_order(group["source"]), model_order(group["model"])
    panels = {name: matrix_values(group, metric, sources, targets) for metric, name in METRICS.items()}
    note = (_title(group, key, "accuracy").replace("Accuracy under", "Under") +
            f"; n = {int(group['n'].iloc[0])} test images; diagonal: white-box.")
    return heat_maps(panels, labels(sources), labels(targets), note, out_dir, stem)


def render_transfer(results_dir: Path, *, data: str | None = None, resamples: int = 1000,
                    log: Callable[[str], None] = print) -> dict[str, Path]:
    """Write every transfer matrix (MD/CSV/LaTeX per metric), the long CSV and the heat maps."""
    results_dir = Path(results_dir)
    cells = transfer_cells(results_dir, data=data, resamples=resamples)
    if cells.empty:
        log("transfer: no attack records; run scripts/run.py attack=<name> or experiment=quick first")
        return {}
    out, written = results_dir / "tables" / "transfer", {}
    per_attack = cells.groupby(["train", "seed", "pooling", "regime", "attack"])["cell_key"].nunique()
    for key, group in cells.groupby(list(_MATRIX), sort=True):
        stem = matrix_stem(key, per_attack[key[:-1]])
        for metric in METRICS:
            notes = [f"n = {int(group['n'].iloc[0])} test images (a seeded stratified subset, the same for every "
                     "model); 95% stratified-bootstrap intervals in brackets; diagonal: white-box (crafted on the "
                     "model tested), off the diagonal: black-box; last row: the target's clean figure on the same "
                     "images.", f"attack configuration (cell key) {key[-1]}"]
            written.update(write_table(out, f"{stem}-{metric}", matrix_frame(group, metric), notes,
                                       _title(group, key, metric), text_columns=1))
        written.update(heat_map(group, key, results_dir / "figures" / "transfer", stem))
    long = cells.astype({c: str for c in ("seed", "n")})
    written.update(write_texts(out, {"transfer_cells.csv": csv_text(long)}))
    log(f"transfer: {cells.groupby(list(_MATRIX)).ngroups} matrices over {cells['source'].nunique()} models -> {out}")
    return written
