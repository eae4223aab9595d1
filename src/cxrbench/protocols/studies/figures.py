"""Figures of the studies (PNG + PDF), drawn from the long tables of :mod:`cxrbench.protocols.studies.frames`.

Every point carries its 95% interval (bands for curves, bars for bins); panels are per variant.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.reporting.figures import add_notes, plt, save_figure


def _panels(count: int, width: float = 4.6, height: float = 3.6):
    fig, axes = plt.subplots(1, max(count, 1), figsize=(width * max(count, 1), height), squeeze=False)
    return fig, list(axes[0])


def _notes(fig, notes: list[str]) -> None:
    """The notes under the plot, wrapped to the figure's width."""
    add_notes(fig, notes, width=int(fig.get_figwidth() * 17))


def _epsilon_axis(ax, radii: np.ndarray) -> None:
    ax.set_xscale("log", base=2)
    ticks = sorted(set(np.round(radii * 255, 3)))
    shown = ticks if len(ticks) <= 10 else ticks[::2]
    ax.set_xticks(shown, [f"{t:g}" for t in shown], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("ε (× 1/255, L∞, [0, 1] pixels)")


def _band(ax, x, frame: pd.DataFrame, column: str, **style) -> None:
    ax.plot(x, frame[column], **style)
    ax.fill_between(x, frame[f"{column}_lo"], frame[f"{column}_hi"], color=style.get("color"), alpha=0.12)


def _finish(ax, ylabel: str, title: str) -> None:
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6.5, loc="best")


def epsilon_figure(budget: pd.DataFrame, minimal: pd.DataFrame, budgets: list[int], out_dir: Path) -> dict[str, Path]:
    """Success against ε: fixed-ε PGD at each budget of ``budgets`` (bands), minimal-ε curves (steps)."""
    variants = list(dict.fromkeys(budget["variant"]))
    fig, axes = _panels(len(variants))
    for ax, variant in zip(axes, variants):
        part = budget[budget["variant"] == variant]
        for k, (steps, line) in enumerate(part[part["iterations"].isin(budgets)].groupby("iterations")):
            line = line.sort_values("epsilon")
            _band(ax, line["epsilon"] * 255, line, "success", color=f"C{k}", marker="o", ms=3,
                  label=f"PGD at fixed ε, {steps} steps")
        if not minimal.empty:
            for k, (attack_id, curve) in enumerate(minimal[minimal["variant"] == variant].groupby("attack_id", sort=True)):
                curve = curve.sort_values("epsilon")
                ax.step(curve["epsilon"] * 255, curve["success"], where="post", ls="--", lw=1,
                        color=f"C{k + len(budgets)}", label=f"{attack_id} minimal-ε search")
        _epsilon_axis(ax, part["epsilon"].to_numpy())
        _finish(ax, "attack success rate", variant)
    _notes(fig, ["Success: fooled / correctly classified clean, 95% Wilson bands. Dashed: share of images whose "
                    "minimal-ε search found an adversarial of L∞ size ≤ ε (same images)."])
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return save_figure(fig, out_dir, "study_budget_epsilon")


def iterations_figure(budget: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Success against the step budget (1 … the run's steps), one line per ε, per variant."""
    variants = list(dict.fromkeys(budget["variant"]))
    fig, axes = _panels(len(variants))
    cmap = plt.get_cmap("viridis")
    for ax, variant in zip(axes, variants):
        part = budget[budget["variant"] == variant]
        radii = sorted(part["epsilon"].unique())
        for j, eps in enumerate(radii):
            line = part[part["epsilon"] == eps].sort_values("iterations")
            _band(ax, line["iterations"], line, "success", color=cmap(j / max(len(radii) - 1, 1)), lw=1.2,
                  label=line["epsilon_label"].iloc[0])
        ax.set_xlabel("PGD steps")
        _finish(ax, "attack success rate", variant)
        ax.legend(fontsize=5.5, ncol=2, loc="lower right", title="ε", title_fontsize=6)
    _notes(fig, ["Each ε is one run; the success after k steps is read off its trajectory (a sample stops at its "
                    "first adversarial iterate, the step is a fraction of ε). 95% Wilson bands."])
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return save_figure(fig, out_dir, "study_budget_iterations")


def confidence_figure(bins: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Success per clean-confidence bin with 95% intervals; the count of each bin written above it."""
    groups = list(bins.groupby(["epsilon_label", "iterations"], sort=False))
    fig, axes = _panels(len(groups), width=5.2)
    for ax, ((label, steps), part) in zip(axes, groups):
        variants = list(dict.fromkeys(part["variant"]))
        width = 0.05 / (len(variants) + 1)
        for k, variant in enumerate(variants):
            line = part[part["variant"] == variant]
            x = line["bin_lo"] + width * (k + 1)
            has = line["n"] > 0
            ax.errorbar(x[has], line["success"][has], yerr=[(line["success"] - line["success_lo"])[has],
                                                            (line["success_hi"] - line["success"])[has]],
                        fmt="o", ms=3, capsize=2, color=f"C{k}", label=variant)
            for xi, n, y in zip(x[has], line["n"][has], line["success_hi"][has]):
                ax.text(xi, min(y + 0.02, 1.0), str(n), fontsize=5, ha="center", color=f"C{k}")
        ax.set_xlim(0.5, 1.0)
        ax.set_xticks(np.linspace(0.5, 1.0, 11))
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel("clean confidence max(p, 1 − p), bins of 0.05")
        _finish(ax, "attack success rate", f"PGD ε = {label}, {steps} steps")
    _notes(fig, ["Correctly classified images only; the number above a bar is the bin's count. 95% Wilson intervals."])
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return save_figure(fig, out_dir, "study_confidence")


def size_figure(clean: pd.DataFrame, budget: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Clean accuracy and success against the number of training images (log scale)."""
    fig, (left, right) = _panels(2)
    for k, (variant, part) in enumerate(clean.groupby("variant", sort=False)):
        part = part.sort_values("train_images")
        _band(left, part["train_images"], part, "test_accuracy", color=f"C{k}", marker="o", ms=3, label=variant)
    _finish(left, "clean test accuracy", "clean accuracy (whole test split)")
    for k, ((variant, label), part) in enumerate(budget.groupby(["variant", "epsilon_label"], sort=False)):
        part = part.sort_values("train_images")
        _band(right, part["train_images"], part, "success", color=f"C{k}", marker="o", ms=3,
              label=f"{variant} ε={label}")
    _finish(right, "attack success rate", f"PGD, {int(budget['iterations'].iloc[0])} steps")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("training images (nested subsets)")
    _notes(fig, ["Every size is a model retrained with the same recipe and step budget; 95% Wilson bands."])
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return save_figure(fig, out_dir, "study_train_size")


def resolution_figure(sizes: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Success, median L∞ and median changed-pixel fraction against the input resolution, per attack."""
    fig, axes = _panels(3, width=4.2)
    panels = (("success", "attack success rate"), ("median_linf", "median L∞ of fooling perturbations"),
              ("median_l0_fraction", "median fraction of pixels changed"))
    for ax, (column, label) in zip(axes, panels):
        for k, ((variant, attack_id), part) in enumerate(sizes.groupby(["variant", "attack_id"], sort=False)):
            part = part.sort_values("input_size")
            ax.errorbar(part["input_size"], part[column], yerr=[part[column] - part[f"{column}_lo"],
                                                                part[f"{column}_hi"] - part[column]],
                        marker="o", ms=3, capsize=2, color=f"C{k}", label=f"{variant} {attack_id}")
        ax.set_xticks(sorted(sizes["input_size"].unique()))
        ax.set_xlabel("input resolution (px)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5)
        if column != "success":
            ax.set_yscale("log")
    axes[0].set_ylim(-0.03, 1.03)
    _notes(fig, ["Minimal-perturbation searches on the same phantom cases rendered at each size; success with 95% "
                    "Wilson intervals, medians over fooled images with 95% bootstrap intervals."])
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return save_figure(fig, out_dir, "study_resolution")
