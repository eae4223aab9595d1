"""Drawing primitives of the phantom, and the signs of the eight findings only multi-label cases draw.

The binary phantom draws six findings (:data:`cxrbench.data.phantom.PHANTOM_FINDINGS`); label sets
drawn from ChestX-ray14 (``label_sets="nih"``) name all 14, and every one of them gets a visible
sign here, in the textbook form a radiologist would look for:

* Atelectasis: a plate-like (discoid) band of increased density in the lower zone of one lung.
* Infiltration: three to five faint, ill-defined patches scattered over the mid and lower zone.
* Pneumonia: a lobar opacity in the lower zone crossed by dark air bronchograms (what tells it
  from Consolidation, which has none).
* Edema: bilateral perihilar haze ("bat wing").
* Emphysema: hyperlucent lungs over a flattened, lowered diaphragm.
* Fibrosis: a reticular net in the periphery of both lower zones.
* Pleural_Thickening: a dense band along the lateral chest wall of one lung.
* Hernia (hiatal): a round retrocardiac opacity above the diaphragm with an air-fluid level.

A scene is in resolution-independent coordinates (see :mod:`cxrbench.data.phantom`); every sign
returns the intensity it adds (negative = more lucent) before the finding contrast gain.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

#: The findings drawn here (the other six are drawn in :mod:`cxrbench.data.phantom`).
EXTRA_FINDINGS = ("Atelectasis", "Infiltration", "Pneumonia", "Edema", "Emphysema", "Fibrosis",
                  "Pleural_Thickening", "Hernia")


def smooth_noise(rng: np.random.Generator, size: int, sigma_frac: float) -> np.ndarray:
    """Unit-variance Gaussian random field with correlation length ``sigma_frac`` of the image."""
    field_ = gaussian_filter(rng.standard_normal((size, size)), sigma=max(sigma_frac * size, 0.5))
    return field_ / (field_.std() + 1e-8)


def soft(d: np.ndarray, width: float) -> np.ndarray:
    """Soft inside-indicator of a signed distance ``d`` (negative inside)."""
    return 1.0 / (1.0 + np.exp(np.clip(d / max(width, 1e-6), -50, 50)))


def extra_lesion_params(name: str, lesion: dict, anatomy: dict, rng: np.random.Generator) -> None:
    """Draw the parameters of one of the eight extra findings into ``lesion`` (and ``anatomy``)."""
    if name == "Atelectasis":
        lesion["thickness"], lesion["tilt"] = rng.uniform(0.02, 0.035), rng.uniform(-0.3, 0.3)
    elif name == "Infiltration":
        lesion["patches"] = int(rng.integers(3, 6))
    elif name == "Emphysema":
        anatomy["dome"] = rng.uniform(0.0, 0.03)
        anatomy["lung_bottom"] += rng.uniform(0.05, 0.08)
    elif name == "Hernia":
        lesion["r"] = rng.uniform(0.07, 0.1)
    elif name not in EXTRA_FINDINGS:
        raise ValueError(f"the phantom cannot draw finding {name!r}")


def _segment_distance(x, y, x0, y0, x1, y1):
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy + 1e-12), 0, 1)
    return np.hypot(x - (x0 + t * dx), y - (y0 + t * dy))


def extra_sign(les: dict, x, y, frames: dict, rng: np.random.Generator, size: int, edge: float,
               lx: float, ly: float) -> np.ndarray:
    """The intensity one extra finding adds (``les["kind"]``), centred at ``(lx, ly)`` in its lung."""
    side, cx, w, top, bottom, u, v, lung = frames[les["side"]]
    kind = les["kind"]
    if kind == "Atelectasis":
        level = top + (0.6 + 0.25 * les["v"]) * (bottom - top)
        band = soft(np.abs(y - level - les["tilt"] * (x - lx)) - les["thickness"], edge)
        return 0.26 * band * soft(np.abs(x - lx) - 0.16, 0.03) * lung
    if kind == "Infiltration":
        out = np.zeros_like(x)
        for _ in range(les["patches"]):
            px = cx + side * rng.uniform(-0.6, 0.6) * w
            py = top + rng.uniform(0.35, 0.9) * (bottom - top)
            out += np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * rng.uniform(0.035, 0.06) ** 2))
        return 0.16 * np.clip(out, 0, 1) * lung
    if kind == "Pneumonia":
        py = top + (0.65 + 0.2 * les["v"]) * (bottom - top)
        region = soft(np.sqrt((x - lx) ** 2 + ((y - py) / 1.2) ** 2) - 0.17, 0.04) * lung
        hilum = (side * 0.2, -0.02)
        bronchi = np.zeros_like(x)
        for angle in rng.uniform(-0.35, 0.35, size=3):
            end_x = lx + 0.16 * np.cos(angle) * side
            end_y = py + 0.16 * np.sin(angle) + 0.08
            bronchi = np.maximum(bronchi, np.exp(-(_segment_distance(x, y, *hilum, end_x, end_y) / max(edge, 0.01)) ** 2))
        return region * (0.24 - 0.16 * bronchi)
    if kind == "Edema":
        return 0.17 * sum(np.exp(-(((x - s * 0.2) / 0.22) ** 2 + ((y + 0.02) / 0.3) ** 2)) * frames[s][7]
                          for s in frames)
    if kind == "Emphysema":
        return -0.08 * sum(frames[s][7] for s in frames)
    if kind == "Fibrosis":
        net = np.exp(-smooth_noise(rng, size, 0.015) ** 2 / 0.08)  # the zero set of a fine field: a mesh of lines
        zone = sum(soft(0.45 - f[6], 0.05) * soft(0.2 - np.abs(f[5]), 0.1) * f[7] for f in frames.values())
        return 0.15 * net * zone
    if kind == "Pleural_Thickening":
        return 0.3 * soft(0.72 - u, 0.02) * soft(np.abs(v - 0.5) - 0.4, 0.05) * lung
    if kind == "Hernia":
        hx, hy = 0.06, bottom - 0.1
        disk = soft(np.hypot(x - hx, y - hy) - les["r"], edge)
        return disk * np.where(y < hy - 0.2 * les["r"], -0.12, 0.2)  # air above the fluid level
    raise ValueError(f"the phantom cannot draw finding {kind!r}")
