"""A miniature ChestX-ray14 tree on disk for tests: real CSV header, tiny PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cxrbench.data.labels import NIH_LABELS, NO_FINDING

#: The header of Data_Entry_2017_v2020.csv, split exactly as pandas splits it.
NIH_CSV_COLUMNS = (
    "Image Index", "Finding Labels", "Follow-up #", "Patient ID", "Patient Age",
    "Patient Gender", "View Position", "OriginalImage[Width", "Height]",
    "OriginalImagePixelSpacing[x", "y]",
)
#: Rows whose PNG is written in a non-"L" mode to exercise conversion.
I16_ROWS = (1, 2)
RGBA_ROWS = (3,)


def _labels(rng: np.random.Generator, row: int) -> str:
    # Alternate so every fixture size has both classes; positives get 1-3 findings.
    if row % 2 == 0:
        return NO_FINDING
    k = int(rng.integers(1, 4))
    picks = rng.choice(len(NIH_LABELS), size=k, replace=False)
    return "|".join(NIH_LABELS[i] for i in sorted(picks))


def _pixels(rng: np.random.Generator, row: int, size: int) -> Image.Image:
    base = rng.integers(0, 256, size=(size, size), dtype=np.uint8)
    if row in I16_ROWS:
        return Image.fromarray(base.astype(np.uint16) * 257)  # full 16-bit range
    if row in RGBA_ROWS:
        alpha = np.full((size, size), 255, dtype=np.uint8)
        return Image.fromarray(np.stack([base, base, base, alpha], axis=-1))
    return Image.fromarray(base)


def make_mini_nih(root: Path, n_images: int = 40, n_patients: int = 12, size: int = 32,
                  layout: str = "nested", seed: int = 0, official_lists: bool = True,
                  real_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write a small ChestX-ray14 look-alike under ``root``.

    Args:
        root: Folder to fill (created if needed).
        n_images: Images to write; at least ``n_patients``.
        n_patients: Patients, each with at least one image.
        size: Side of every PNG.
        layout: "nested" (``images_001/images``, ``images_002/images``) or
            "flat" (``images/``).
        seed: Seed for labels, patient assignment and pixels.
        official_lists: Also write ``train_val_list.txt`` and ``test_list.txt``,
            putting the last quarter of patients in the test list.
        real_rows: Rows of the real metadata (the NIH CSV's columns, e.g. images Google
            relabelled) written after the generated ones, ids and labels as they are; the
            generated patients avoid their patient ids.

    Returns:
        The metadata exactly as written to ``Data_Entry_2017_v2020.csv``.
    """
    if layout not in ("nested", "flat") or n_images < n_patients:
        raise ValueError(f"bad fixture arguments layout={layout!r} n_images={n_images}")
    rng = np.random.default_rng(seed)
    root = Path(root)
    taken = [] if real_rows is None else real_rows["Patient ID"].to_numpy()
    patient_ids = np.sort(rng.choice(np.setdiff1d(np.arange(1, 30_000), taken), size=n_patients, replace=False))
    owners = np.concatenate([np.arange(n_patients), rng.integers(0, n_patients, n_images - n_patients)])
    rows, follow_up = [], dict.fromkeys(range(n_patients), 0)
    for row, owner in enumerate(owners):
        pid = int(patient_ids[owner])
        rows.append({
            "Image Index": f"{pid:08d}_{follow_up[owner]:03d}.png",
            "Finding Labels": _labels(rng, row),
            "Follow-up #": follow_up[owner],
            "Patient ID": pid,
            "Patient Age": int(rng.integers(20, 90)),
            "Patient Gender": "MF"[row % 2],
            "View Position": "PA" if row % 3 else "AP",
            "OriginalImage[Width": 2500,
            "Height]": 2048,
            "OriginalImagePixelSpacing[x": 0.143,
            "y]": 0.143,
        })
        follow_up[owner] += 1
    meta = pd.DataFrame(rows, columns=list(NIH_CSV_COLUMNS))
    if real_rows is not None:
        meta = pd.concat([meta, real_rows[list(NIH_CSV_COLUMNS)]], ignore_index=True)

    for row, image_id in enumerate(meta["Image Index"]):
        if layout == "flat":
            folder = root / "images"
        else:
            folder = root / f"images_{1 + 2 * min(row, n_images - 1) // n_images:03d}" / "images"
        folder.mkdir(parents=True, exist_ok=True)
        _pixels(rng, row, size).save(folder / image_id)

    meta.to_csv(root / "Data_Entry_2017_v2020.csv", index=False)
    if official_lists:
        test_patients = set(patient_ids[-max(1, n_patients // 4):].tolist())
        in_test = meta["Patient ID"].isin(test_patients)
        (root / "train_val_list.txt").write_text("\n".join(meta["Image Index"][~in_test]) + "\n")
        (root / "test_list.txt").write_text("\n".join(meta["Image Index"][in_test]) + "\n")
    return meta
