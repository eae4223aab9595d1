"""Figures 1 and 2 of Taghanaki et al. 2018 from stored adversarials, and the helpers Figs. 3-4 share.

Fig. 1: one test image and its adversarial versions under every attack (white-box, one variant),
the perturbation below each. Fig. 2: per attack, the most perceptible successful adversarial
(lowest SSIM) over all white-box crafted sets. Images come from the crafting directories the
records point to; a missing record or an attack that never succeeded leaves a labelled empty panel.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cxrbench.attacks import get_attack_spec, list_attacks
from cxrbench.evaluation.adversarial import load_table
from cxrbench.models import list_models
from cxrbench.records.selection import Selection
from cxrbench.reporting.figures import add_notes, plt, save_figure
from cxrbench.reporting.labels import POOLING, STANDARD, variant_label

#: Variants (model, pooling, regime) in the order of the paper's table rows.
VARIANTS = [(model, pooling, STANDARD) for pooling in POOLING.values() for model in list_models(in_paper=True)]



def figure_variants(selection: Selection) -> list[tuple[str, str, str]]:
    """The paper's variants, then every other (model, pooling, regime) with a record, sorted."""
    return VARIANTS + sorted(selection.variants() - set(VARIANTS))


def attack_label(attack: str) -> str:
    """Paper id above the attack's name, short enough for a narrow panel."""
    spec = get_attack_spec(attack)
    return f"{spec.paper_id}\n{spec.title}"


def missing_summary(missing: dict[tuple[str, str, str], list[str]]) -> str:
    """``MP IR2: G2, G3; AP NL: all`` for the attacks (paper ids) each variant lacks."""
    every = len(list_attacks(paper_only=True))
    return "; ".join(f"{variant_label(*v)}: {'all' if len(ids) == every else ', '.join(ids)}"
                     for v, ids in missing.items() if ids)


def white_box(selection: Selection) -> dict[tuple[str, str, str], dict[str, dict]]:
    """White-box records by variant, then attack (only variants that have any)."""
    out: dict[tuple[str, str, str], dict[str, dict]] = {}
    for (setting, model, pooling, regime, attack), record in selection.attack.items():
        if setting == "white-box":
            out.setdefault((model, pooling, regime), {})[attack] = record
    return out




def crafted_table(selection: Selection, record: dict) -> pd.DataFrame | None:
    """The crafting table a record points to; None when its directory is gone (a figure then says so)."""
    directory = selection.path(record.get("crafted") or "")
    if not record.get("crafted") or not any(directory.glob("part-*.parquet")):
        return None
    return load_table(directory)


def stored_image(directory: Path, position: int, which: str = "adversarial") -> np.ndarray:
    """Image ``position`` (row of the crafting table) as ``H x W``, reading only the chunk that holds it."""
    for part in sorted(Path(directory).glob("part-*.npz")):
        with np.load(part) as arrays:
            rows = arrays["rows"]
            if rows[0] <= position <= rows[-1]:
                return arrays[which][position - rows[0]].mean(axis=0)  # channels are replicas of one gray image
    raise FileNotFoundError(f"{directory} holds no image at row {position}")


def _show_pair(top: plt.Axes, bottom: plt.Axes, clean: np.ndarray, adversarial: np.ndarray) -> None:
    """Adversarial image above, perturbation below, scaled to its own largest magnitude so that it shows."""
    top.imshow(adversarial, cmap="gray", vmin=0, vmax=1)
    delta = adversarial - clean
    peak = float(np.abs(delta).max())
    bottom.imshow(delta, cmap="RdBu_r", vmin=-max(peak, 1e-12), vmax=max(peak, 1e-12))
    bottom.set_xlabel(f"×{0.5 / peak:.0f}" if peak > 0 else "no change", fontsize=6.5)


def _blank(axes: list[plt.Axes], title: str, text: str) -> None:
    for ax in axes:  # frameless, but keeping the axes keeps row labels of the first column
        for spine in ax.spines.values():
            spine.set_visible(False)
    axes[0].set_title(title, fontsize=6.5)
    axes[0].text(0.5, 0.5, text, ha="center", va="center", fontsize=7, color="dimgray", wrap=True,
                 transform=axes[0].transAxes)


def _grid(rows: int, columns: int, height: float) -> tuple[plt.Figure, np.ndarray]:
    fig, axes = plt.subplots(rows, columns, figsize=(1.25 * columns, height), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes


def figure1(selection: Selection, out_dir: Path, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Fig. 1: one test image and its adversarials under every attack, perturbations below."""
    attacks = list_attacks(paper_only=True)
    # the paper's attacks only: another attack's (smaller) image set must not narrow the image choice
    by_variant = {v: {a: r for a, r in records.items() if a in attacks} for v, records in white_box(selection).items()}
    # the variant with the most white-box attacks, ties in the paper's row order
    variants = figure_variants(selection)
    variant = max(variants, key=lambda v: (len(by_variant.get(v, {})), -variants.index(v)))
    records = by_variant.get(variant, {})
    tables = {a: t for a, t in ((a, crafted_table(selection, r)) for a, r in records.items()) if t is not None}
    reasons = {a: "no record" if a not in records else "images gone" for a in attacks if a not in tables}
    fig, axes = _grid(2, 1 + len(attacks), 3.3)
    unrecorded = [get_attack_spec(a).paper_id for a in attacks if a not in records]
    gone = [get_attack_spec(a).paper_id for a in attacks if a in records and a not in tables]
    notes = []
    if unrecorded:
        notes.append(f"No white-box record: {missing_summary({variant: unrecorded})}.")
    if gone:
        notes.append(f"Crafted images gone: {', '.join(gone)}.")
    if not tables:
        for k, attack in enumerate(attacks, start=1):
            _blank(list(axes[:, k]), attack_label(attack), reasons[attack])
        _blank(list(axes[:, 0]), "clean", "")
        return _finish(fig, out_dir, "figure1_examples", notes, "Fig. 1. Adversarial examples: no crafted images")
    # the image most attacks fooled; ties go to the first in test order
    success = pd.concat({a: t.set_index("image_id")["success"] for a, t in tables.items()}, axis=1)
    success = success.dropna()
    image_id = success.sum(axis=1).astype(int).idxmax()
    fooled = int(success.loc[image_id].sum())
    first = next(iter(tables))
    position = int(np.flatnonzero(tables[first]["image_id"] == image_id)[0])
    clean = stored_image(selection.path(records[first]["crafted"]), position, "clean")
    label = int(tables[first]["label"].iloc[position])
    axes[0, 0].imshow(clean, cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title(f"clean\n{'finding' if label else 'no finding'}", fontsize=7)
    axes[1, 0].text(0.5, 0.5, "perturbation\n(adv − clean,\nscaled ×k)", ha="center", va="center", fontsize=6.5,
                    transform=axes[1, 0].transAxes)
    axes[1, 0].axis("off")
    for k, attack in enumerate(attacks, start=1):
        if attack not in tables:
            _blank(list(axes[:, k]), attack_label(attack), reasons[attack])
            continue
        table = tables[attack]
        row = table.index[table["image_id"] == image_id][0]
        adversarial = stored_image(selection.path(records[attack]["crafted"]), int(row))
        _show_pair(axes[0, k], axes[1, k], clean, adversarial)
        ok = bool(table.at[row, "success"])
        axes[0, k].set_title(f"{attack_label(attack)}\nP(finding) {table.at[row, 'adv_prob']:.2f}"
                             + ("" if ok else "\nnot fooled"), fontsize=6.5, color="black" if ok else "dimgray")
    log(f"figures: fig. 1 shows image {image_id} of {variant_label(*variant)}, fooled by {fooled} of "
        f"{len(tables)} attacks")
    title = (f"Fig. 1. Image {image_id} and its white-box adversarials on {variant_label(*variant)} "
             f"(fooled by {fooled} of {len(tables)} attacks; {selection.describe()})")
    return _finish(fig, out_dir, "figure1_examples", notes, title)


def figure2(selection: Selection, out_dir: Path, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Fig. 2: per attack, the successful white-box adversarial with the lowest SSIM, over all variants."""
    attacks = list_attacks(paper_only=True)
    by_variant = white_box(selection)
    fig, axes = _grid(3, len(attacks), 5.0)
    notes: list[str] = []
    for k, attack in enumerate(attacks):
        candidates, recorded, loaded = [], False, False
        for variant in figure_variants(selection):  # in row order, so ties resolve the same way every time
            record = by_variant.get(variant, {}).get(attack)
            table = None if record is None else crafted_table(selection, record)
            recorded, loaded = recorded or record is not None, loaded or table is not None
            if table is not None:
                for row in table.index[table["success"]]:
                    candidates.append((float(table.at[row, "ssim"]), variant, record, int(row), table))
        if not candidates:
            reason = "no successful\nadversarial" if loaded else "images gone" if recorded else "no record"
            _blank(list(axes[:, k]), attack_label(attack), reason)
            continue
        ssim, variant, record, row, table = min(candidates, key=lambda c: c[0])
        directory = selection.path(record["crafted"])
        clean = stored_image(directory, row, "clean")
        axes[0, k].imshow(clean, cmap="gray", vmin=0, vmax=1)
        axes[0, k].set_title(f"{attack_label(attack)}\n{variant_label(*variant)}\n{table.at[row, 'image_id']}",
                             fontsize=6.5)
        _show_pair(axes[1, k], axes[2, k], clean, stored_image(directory, row))
        axes[1, k].set_title(f"SSIM {ssim:.2f}\nP(finding) {table.at[row, 'adv_prob']:.2f}", fontsize=6.5)
    for ax, text in zip(axes[:, 0], ("clean", "adversarial", "perturbation")):
        ax.set_ylabel(text, fontsize=7)
    title = ("Fig. 2. Most perceptible successful white-box adversarial per attack "
             f"(lowest SSIM; {selection.describe()})")
    return _finish(fig, out_dir, "figure2_perceptible", notes, title)


def _finish(fig: plt.Figure, out_dir: Path, stem: str, notes: list[str], title: str) -> dict[str, Path]:
    fig.suptitle(title, fontsize=8)
    add_notes(fig, notes)
    fig.tight_layout(rect=(0, 0.04 if notes else 0, 1, 1))
    return save_figure(fig, out_dir, stem)
