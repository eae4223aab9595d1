"""Figures 3 and 4 of Taghanaki et al. 2018: attack confidence and accuracy against perceptibility.

Fig. 3 follows the paper's text: the probability the network gives after *successful* attacks on
*disease-class* images, i.e. for test images with a finding that the target classified correctly
when clean and wrongly after the attack, the probability of the adversarial class (no finding).
Values just above 0.5 mean the attack barely crossed the boundary; higher means a stronger
attack. An absent box means no successful attack on a disease image, as in the paper.

Fig. 4 places each attack by the accuracy it leaves (white-box) against how visible its
successful adversarials are: median SSIM (right: harder to see) and median L2 (axis reversed, so
right is again harder to see). Colour: attack family; marker: variant. A point whose attack ran
with parameters that make it weaker than the paper's (``comparable_with_paper`` false) is drawn
hollow and listed under the plot, so it is not read as the paper's attack.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cxrbench.attacks import get_attack_spec, list_attacks
from cxrbench.attacks.registry import FAMILIES
from cxrbench.io import read_table
from cxrbench.protocols.paper.figures import figure_variants, missing_summary, white_box
from cxrbench.protocols.paper.table_notes import (
    deviation_text,  # the tables' wording of deviations
)
from cxrbench.records.selection import Selection
from cxrbench.reporting.figures import add_notes, plt, save_figure, variant_label

# The paper's four variants first; further ones (another training regime, another backbone) after.
_VARIANT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
_VARIANT_MARKERS = ["o", "*", "s", "^", "D", "v", "P", "X"]
_FAMILY_COLOURS = dict(zip(FAMILIES, ["#d62728", "#1f77b4", "#2ca02c"]))


def successful_disease_confidence(samples: pd.DataFrame) -> np.ndarray:
    """P(no finding) of disease images the attack flipped from correct to wrong (the attack's confidence)."""
    hit = (samples["label"] == 1) & (samples["clean_pred"] == 1) & (samples["adv_pred"] == 0)
    return 1.0 - samples.loc[hit, "adv_prob"].to_numpy(dtype=float)


def figure3(selection: Selection, out_dir: Path, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Fig. 3: box plots of the attack's confidence on fooled disease images, per attack and variant."""
    attacks = list_attacks(paper_only=True)
    by_variant = white_box(selection)
    fig, ax = plt.subplots(figsize=(11, 4.2))
    variants = figure_variants(selection)
    width = 0.8 / len(variants)
    missing: dict[tuple[str, str, str], list[str]] = {v: [] for v in variants}
    for j, variant in enumerate(variants):
        for i, attack in enumerate(attacks):
            x = i + (j - (len(variants) - 1) / 2) * width
            record = by_variant.get(variant, {}).get(attack)
            per_sample = selection.path(record["per_sample"]) if record and record.get("per_sample") else None
            if per_sample is None or not per_sample.exists():
                missing[variant].append(get_attack_spec(attack).paper_id)
                continue
            values = successful_disease_confidence(read_table(per_sample, "per-image table"))
            if len(values):
                ax.boxplot(values, positions=[x], widths=width * 0.85, patch_artist=True, manage_ticks=False,
                           boxprops={"facecolor": _VARIANT_COLOURS[j], "alpha": 0.75},
                           medianprops={"color": "black"}, flierprops={"markersize": 2})
            ax.text(x, 0.0, str(len(values)), ha="center", va="bottom", fontsize=5.5, color=_VARIANT_COLOURS[j],
                    transform=ax.get_xaxis_transform())  # n per box, 0 where no box
    ax.set_xticks(range(len(attacks)), [get_attack_spec(a).paper_id for a in attacks])
    ax.set_xlim(-0.6, len(attacks) - 0.4)
    ax.axhline(0.5, color="gray", lw=0.6, ls=":")
    ax.set_ylabel("P(no finding) after a successful attack\non a disease image (attack confidence)", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=_VARIANT_COLOURS[j], alpha=0.75) for j in range(len(variants))]
    ax.legend(handles, [variant_label(*v) for v in variants], fontsize=7, ncol=4, loc="lower right",
              bbox_to_anchor=(1.0, 1.0), frameon=False)  # above the axes: boxes may reach any height
    notes = ["Numbers at the bottom: fooled disease images per box (no box: no successful attack)."]
    if any(missing.values()):
        notes.append(f"No white-box record or per-sample file (no count shown): {missing_summary(missing)}.")
    fig.suptitle(f"Fig. 3. Network confidence after successful white-box attacks ({selection.describe()})",
                 fontsize=9)
    add_notes(fig, notes)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return save_figure(fig, out_dir, "figure3_confidence")


def perceptibility_points(selection: Selection) -> pd.DataFrame:
    """One row per white-box record: attack, id, family, variant, accuracy, median SSIM and L2, comparable.

    ``comparable`` is the record's ``comparable_with_paper``; ``deviations`` its weakened parameters.
    """
    rows = []
    for variant, records in white_box(selection).items():
        for attack, record in records.items():
            spec = get_attack_spec(attack)
            metrics = record.get("metrics", {})
            rows.append({"attack": attack, "paper_id": spec.paper_id, "family": spec.family,
                         "variant": variant, "accuracy": float(record["accuracy"]),
                         "median_ssim": float(metrics.get("median_ssim", np.nan)),
                         "median_l2": float(metrics.get("median_l2", np.nan)),
                         "comparable": bool(record.get("comparable_with_paper", True)),
                         "deviations": dict(record.get("deviations") or {})})
    columns = ["attack", "paper_id", "family", "variant", "accuracy", "median_ssim", "median_l2", "comparable",
               "deviations"]
    order = {a: i for i, a in enumerate(list_attacks())}
    variants = figure_variants(selection)
    rows.sort(key=lambda r: (order[r["attack"]], variants.index(r["variant"])))
    return pd.DataFrame(rows, columns=columns)


def figure4(selection: Selection, out_dir: Path, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Fig. 4: white-box accuracy against median SSIM and median L2 of successful adversarials."""
    points = perceptibility_points(selection)
    variants = figure_variants(selection)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    placed = points.dropna(subset=["median_ssim", "median_l2"])
    for ax, column, label in ((axes[0], "median_ssim", "median SSIM of successful adversarials (→ harder to see)"),
                              (axes[1], "median_l2", "median L2 of successful adversarials (reversed: → smaller)")):
        for row in placed.itertuples(index=False):
            j = variants.index(row.variant)
            colour = _FAMILY_COLOURS[row.family]
            # hollow (family colour on the edge only): a weakened attack is not the paper's attack
            style = ({"facecolors": colour, "edgecolors": "black", "linewidths": 0.4} if row.comparable
                     else {"facecolors": "none", "edgecolors": colour, "linewidths": 1.2})
            ax.scatter(getattr(row, column), row.accuracy, marker=_VARIANT_MARKERS[j], s=46, zorder=3, **style)
            ax.annotate(row.paper_id, (getattr(row, column), row.accuracy), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xlabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    if len(placed) and (placed["median_l2"] > 0).all() and placed["median_l2"].max() > 10 * placed["median_l2"].min():
        axes[1].set_xscale("log")  # sizes of gradient and decision attacks differ by orders of magnitude
    axes[1].invert_xaxis()
    axes[0].set_ylabel("white-box accuracy (attacked test images)", fontsize=8)
    axes[0].set_ylim(-0.05, 1.05)
    family_handles = [plt.Line2D([], [], ls="", marker="o", color=c, label=f) for f, c in _FAMILY_COLOURS.items()]
    variant_handles = [plt.Line2D([], [], ls="", marker=m, color="gray", label=variant_label(*v))
                       for v, m in zip(variants, _VARIANT_MARKERS)]
    fig.legend(handles=family_handles + variant_handles, fontsize=7, loc="center right", frameon=False)
    notes = ["Lower right: a more successful attack (fools the model and is hard to see)."]
    weakened = points[~points["comparable"].astype(bool)]
    if len(weakened):
        notes.append("Hollow markers: attack weaker than the paper's (not comparable with it): " + "; ".join(
            f"{r.paper_id} {variant_label(*r.variant)} ({deviation_text(r.deviations)})"
            for r in weakened.itertuples()) + ".")
    unplaced = points[points[["median_ssim", "median_l2"]].isna().any(axis=1)]
    if len(unplaced):
        notes.append("Not placed (no successful adversarial): " + ", ".join(
            f"{r.paper_id} {variant_label(*r.variant)} (acc. {r.accuracy:.2f})" for r in unplaced.itertuples()) + ".")
    if points.empty:
        notes.append("No white-box attack records: nothing to show.")
    fig.suptitle(f"Fig. 4. Accuracy against perceptibility, white-box ({selection.describe()})", fontsize=9)
    add_notes(fig, notes)
    fig.tight_layout(rect=(0, 0.07, 0.88, 1))  # the right margin holds the legend
    return save_figure(fig, out_dir, "figure4_perceptibility")
