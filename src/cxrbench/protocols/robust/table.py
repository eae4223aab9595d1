"""The robust table: accuracy under fixed-budget PGD and APGD-CE per ε, standard vs adversarially trained.

Rendered from ``robust`` records alone (:mod:`cxrbench.protocols.robust.run` writes them): one row per
(seed, model, pooling, regime), the clean accuracy of the attacked images, then per ε one column
per attack, each cell with its 95% stratified-bootstrap interval. Files under ``tables/robust/``:
``robust_accuracy.{md,csv,tex}`` (wide, as read; per ε also the worst case over both attacks),
``robust_cells.csv`` (long: one line per cell with n, success rate, interval and the AUC of the
worst case found), ``apgd_vs_pgd.{md,csv,tex}`` (images broken by one attack and not the other,
:mod:`cxrbench.protocols.robust.compare`) and ``figures/robust_accuracy.{png,pdf}``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from cxrbench.attacks import list_attacks
from cxrbench.io import read_table
from cxrbench.protocols.robust.compare import WORST_TITLE, agreement_table, with_worst_columns, worst_case_cells
from cxrbench.records.store import load_records, newest_per_cell
from cxrbench.reporting.bootstrap import bootstrap_metrics
from cxrbench.reporting.figures import add_notes, plt, save_figure, variant_label
from cxrbench.reporting.labels import POOLING, STANDARD
from cxrbench.reporting.table_format import csv_text, fmt, write_table, write_texts

#: One table cell; reruns of it resolve to the newest record.
_CELL = ("seed", "model", "pooling", "regime", "attack", "epsilon", "iterations", "digest")


def robust_cells(results_dir: Path, *, data: str | None = None, resamples: int = 1000) -> pd.DataFrame:
    """One line per (seed, variant, attack, ε) with accuracy, its interval, clean accuracy, success rate, n."""
    records = load_records(Path(results_dir) / "records", kinds=("robust",))
    chosen = newest_per_cell(records, _CELL, data=data, what="robust")
    rows = []
    for key, r in sorted(chosen.items(), key=lambda kv: _order(kv[1])):
        samples = read_table(Path(results_dir) / r["per_sample"], "per-image table", columns=["label", "adv_prob", "clean_prob"])
        value = bootstrap_metrics(samples["label"].to_numpy(), samples["adv_prob"].to_numpy(), resamples=resamples)
        clean = bootstrap_metrics(samples["label"].to_numpy(), samples["clean_prob"].to_numpy(), resamples=resamples)
        rows.append({**dict(zip(_CELL, key)), "variant": variant_label(r["model"], r["pooling"], r["regime"]),
                     "attack_title": r["attack_title"], "epsilon_label": r["epsilon_label"], "n": r["images"],
                     "accuracy": r["accuracy"], "accuracy_lo": value["accuracy"].lo, "accuracy_hi": value["accuracy"].hi,
                     "clean_accuracy": r["clean_accuracy"], "clean_lo": clean["accuracy"].lo,
                     "clean_hi": clean["accuracy"].hi, "success_rate": r["success_rate"],
                     "worst_case_auc": r["worst_case_auc"], "gradients": r["gradients"],
                     "attack_seconds": r["attack_seconds"], "per_sample": r["per_sample"]})
    return pd.DataFrame(rows)


def _order(record: dict) -> tuple:
    """Seed, then the tables' row order (max before avg, registry order, standard training first), then ε, attack."""
    attacks = list_attacks()
    return (record["seed"], list(POOLING.values()).index(record["pooling"]) if record["pooling"] in POOLING.values()
            else 9, record["model"], record["regime"] != STANDARD, record["regime"], record["iterations"],
            record["epsilon"], attacks.index(record["attack"]))


def _cell(value: float, lo: float, hi: float) -> str:
    return f"{fmt(value, 3)} [{fmt(lo, 2)}, {fmt(hi, 2)}]" if value == value else ""


def wide_table(cells: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Rows (seed, variant, iterations, n) × columns Clean, then ``<ε> <attack>`` in ε order; and the notes."""
    heads = ["seed", "variant", "iterations", "n"]
    columns = list(dict.fromkeys(f"{e} {a}" for e, a in zip(cells["epsilon_label"], cells["attack_title"])))
    lines = []
    for (seed, variant, iterations, n), group in cells.groupby(["seed", "variant", "iterations", "n"], sort=False):
        first = group.iloc[0]
        line = {"seed": str(seed), "variant": variant, "iterations": str(iterations), "n": str(n),
                "Clean": _cell(first.clean_accuracy, first.clean_lo, first.clean_hi)}
        for cell in group.itertuples(index=False):
            line[f"{cell.epsilon_label} {cell.attack_title}"] = _cell(cell.accuracy, cell.accuracy_lo, cell.accuracy_hi)
        lines.append(line)
    frame = pd.DataFrame(lines, columns=heads + ["Clean"] + columns).fillna("")
    notes = ["Accuracy under attack over the same test images per row (n), 95% stratified-bootstrap interval in "
             "brackets; ε in [0, 1] pixel units; every attack runs `iterations` steps at each ε.",
             "An image broken at a smaller ε counts as broken at every larger ε (its adversarial lies in the larger "
             "ball), so accuracy never rises with ε; Clean is the same images unattacked.",
             f"`{WORST_TITLE}`: an image counts as broken when PGD or APGD-CE broke it (the worst case a robustness "
             "claim must survive); images broken by one attack only: `apgd_vs_pgd.md`."]
    return frame, notes


def robust_figure(cells: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Accuracy against ε per variant (one panel per seed), solid APGD-CE, dashed PGD, bands = intervals."""
    seeds = sorted(cells["seed"].unique())
    fig, axes = plt.subplots(1, len(seeds), figsize=(6.5 * len(seeds), 4.2), squeeze=False)
    for ax, seed in zip(axes[0], seeds):
        part = cells[cells["seed"] == seed]
        for k, (variant, group) in enumerate(part.groupby("variant", sort=False)):
            colour = f"C{k}"
            for (attack, title), line in group.groupby(["attack", "attack_title"], sort=False):
                line = line.sort_values("epsilon")
                eps = line["epsilon"] * 255
                strong = attack == "apgd"  # PGD's crosses are larger than the dots: equal curves stay visible
                ax.plot(eps, line["accuracy"], marker="o" if strong else "x", ms=3 if strong else 6, color=colour,
                        ls="-" if strong else "--", label=f"{variant} {title}")
                ax.fill_between(eps, line["accuracy_lo"], line["accuracy_hi"], color=colour, alpha=0.12)
        ax.set_xscale("log", base=2)
        ticks = sorted(part["epsilon"].unique() * 255)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("ε (× 1/255, L∞)")
        ax.set_ylabel("accuracy under attack")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.set_title(f"seed {seed}", fontsize=9)
        ax.legend(fontsize=6.5, loc="upper right")
    add_notes(fig, ["Solid with dots: APGD-CE, dashed with crosses: G2 PGD, same ε and step budget; bands: 95% bootstrap intervals."])
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save_figure(fig, out_dir, "robust_accuracy")


def render_robust(results_dir: Path, *, data: str | None = None, resamples: int = 1000,
                  log: Callable[[str], None] = print) -> dict[str, Path]:
    """Write the robust table (MD/CSV/LaTeX), its long form and its figure; nothing when no records."""
    results_dir = Path(results_dir)
    cells = robust_cells(results_dir, data=data, resamples=resamples)
    if cells.empty:
        log("robust: no robust records; run scripts/run.py experiment=robust_quick first")
        return {}
    out, written = results_dir / "tables" / "robust", {}
    worst = worst_case_cells(cells, results_dir, resamples=resamples)
    frame, notes = wide_table(with_worst_columns(cells, worst))
    title = "Accuracy under fixed-budget L-inf attacks: G2 PGD vs APGD-CE, standard vs adversarially trained"
    written.update(write_table(out, "robust_accuracy", frame, notes, title))
    if not worst.empty:
        written.update(write_table(out, "apgd_vs_pgd", *agreement_table(worst), text_columns=4))
        counts = ("seed", "iterations", "n", "first_broken", "second_broken", "first_only", "second_only", "either",
                  "correct")
        written.update(write_texts(out, {"apgd_vs_pgd_cells.csv": csv_text(worst.astype({c: str for c in counts}))}))
    long = cells.drop(columns=["digest", "per_sample"]).astype({c: str for c in ("seed", "iterations", "n", "gradients")})
    written.update(write_texts(out, {"robust_cells.csv": csv_text(long)}))
    written.update(robust_figure(cells, results_dir / "figures"))
    log(f"robust: {len(cells)} cells -> {out}")
    return written
