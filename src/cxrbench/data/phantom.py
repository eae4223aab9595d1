"""Procedural chest-radiograph phantom: anatomy plus anatomically placed findings.

Every image is a pure function of ``(seed, index, size)``: the scene (anatomy,
findings) is drawn in resolution-independent coordinates from an RNG keyed by
``(seed, index)``, then rasterised at the requested size, so the same case looks
the same at 64 px and 1024 px. Coordinates are ``x, y`` in ``[-1, 1]`` with ``y``
growing downwards and the patient's right on the image left, as on a PA film.
Brighter means more attenuation (bone, fluid, soft tissue); lungs are dark.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cxrbench.data.labels import NIH_FINDING_PREVALENCE, NIH_LABELS
from cxrbench.data.phantom_signs import EXTRA_FINDINGS, extra_lesion_params, extra_sign
from cxrbench.data.phantom_signs import smooth_noise as _smooth_noise
from cxrbench.data.phantom_signs import soft as _soft
from cxrbench.data.label_sets import PHANTOM_SETS, finding_sets


#: Findings of the binary phantom (``label_sets="phantom"``); each maps onto one ChestX-ray14 label.
PHANTOM_FINDINGS: tuple[str, ...] = (
    "Nodule", "Mass", "Consolidation", "Effusion", "Cardiomegaly", "Pneumothorax",
)
# Relative frequency among positive cases, roughly following ChestX-ray14 counts.
_FINDING_WEIGHTS = np.array([0.20, 0.15, 0.15, 0.22, 0.13, 0.15])


@dataclass(frozen=True)
class PhantomParams:
    """Knobs of the generator.

    Attributes:
        prevalence: probability that a case has at least one finding.
        lesion_contrast: multiplies the intensity of every finding; lower is harder.
        noise: standard deviation of the quantum noise added to the final image.
        max_findings: upper bound on findings drawn for one positive case (``phantom`` label sets).
        label_sets: ``phantom`` (the binary task's default: one to three of the six
            :data:`PHANTOM_FINDINGS`) or a registered dataset, e.g. ``nih`` (the whole set drawn from
            that dataset's joint distribution of finding sets, :mod:`cxrbench.data.label_sets`).
    """

    prevalence: float = NIH_FINDING_PREVALENCE
    lesion_contrast: float = 1.0
    noise: float = 0.02
    max_findings: int = 3
    label_sets: str = "phantom"


@dataclass
class Case:
    """Scene description of one phantom radiograph (before rasterisation)."""

    findings: list[str]
    anatomy: dict[str, float]
    lesions: list[dict] = field(default_factory=list)

    @property
    def target(self) -> int:
        return int(bool(self.findings))

    def label_vector(self) -> np.ndarray:
        return np.array([name in self.findings for name in NIH_LABELS], dtype=np.int8)


def case_rng(seed: int, index: int) -> np.random.Generator:
    """Independent stream per image, so any subset can be generated in any order."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def sample_case(rng: np.random.Generator, params: PhantomParams, positive: bool | None = None) -> Case:
    """Draw anatomy and findings for one case.

    Args:
        rng: the case's own generator (see :func:`case_rng`).
        params: generator settings.
        positive: force a case with (True) or without (False) findings; ``None``
            draws it with ``params.prevalence``.
    """
    anatomy = {
        "shift_x": rng.normal(0, 0.03), "shift_y": rng.normal(0, 0.03),
        "rot": rng.normal(0, 0.04), "scale": rng.uniform(0.92, 1.05),
        "lung_w": rng.uniform(0.30, 0.35), "lung_top": rng.uniform(-0.78, -0.70),
        "lung_bottom": rng.uniform(0.40, 0.50), "dome": rng.uniform(0.08, 0.16),
        "ctr": rng.uniform(0.38, 0.48), "exposure": rng.uniform(0.85, 1.15),
        "gamma": rng.uniform(0.85, 1.2), "rib_phase": rng.uniform(-0.03, 0.03),
    }
    if positive is None:
        positive = bool(rng.random() < params.prevalence)
    findings: list[str] = []
    if positive and params.label_sets != PHANTOM_SETS:
        sets = finding_sets(params.label_sets)
        findings = list(sets.sets[int(rng.choice(len(sets.sets), p=sets.probabilities))])
    elif positive:
        k = int(rng.integers(1, params.max_findings + 1)) if rng.random() < 0.35 else 1
        picks = rng.choice(len(PHANTOM_FINDINGS), size=k, replace=False, p=_FINDING_WEIGHTS)
        findings = sorted(PHANTOM_FINDINGS[i] for i in picks)
    case = Case(findings=findings, anatomy=anatomy)
    for name in findings:
        side = float(rng.choice([-1.0, 1.0]))
        lesion = {"kind": name, "side": side, "u": rng.uniform(0.15, 0.85), "v": rng.uniform(0.2, 0.8),
                  "seed": int(rng.integers(2**31))}
        if name == "Nodule":
            lesion["r"] = rng.uniform(0.045, 0.07)
        elif name == "Mass":
            lesion["r"] = rng.uniform(0.09, 0.15)
        elif name == "Effusion":
            lesion["level"] = rng.uniform(0.25, 0.5)
        elif name == "Cardiomegaly":
            anatomy["ctr"] = rng.uniform(0.58, 0.68)
        elif name == "Pneumothorax":
            lesion["depth"] = rng.uniform(0.25, 0.45)
        elif name in EXTRA_FINDINGS:  # drawn by the nih label sets only (phantom_signs.py renders them)
            extra_lesion_params(name, lesion, anatomy, rng)
        case.lesions.append(lesion)
    return case


def render_case(case: Case, size: int, params: PhantomParams, rng: np.random.Generator) -> np.ndarray:
    """Rasterise a case to a float image in ``[0, 1]`` of shape ``(size, size)``."""
    a = case.anatomy
    px = 2.0 / size  # one pixel in scene units; edges are at least a pixel soft
    lin = (np.arange(size) + 0.5) * px - 1.0
    yy, xx = np.meshgrid(lin, lin, indexing="ij")
    c, s = np.cos(a["rot"]), np.sin(a["rot"])
    x = (c * (xx - a["shift_x"]) + s * (yy - a["shift_y"])) / a["scale"]
    y = (-s * (xx - a["shift_x"]) + c * (yy - a["shift_y"])) / a["scale"]
    edge = max(px, 0.012)

    body = _soft(np.sqrt((x / 0.88) ** 2 + ((y - 0.1) / 1.05) ** 2) - 1.0, 0.03)
    shoulders = _soft(np.sqrt((np.abs(x) - 0.55) ** 2 / 0.35**2 + (y + 0.8) ** 2 / 0.2**2) - 1.0, 0.03)
    img = 0.03 + 0.42 * np.maximum(body, shoulders)

    lungs, lung_frames = np.zeros_like(x), []
    for side in (-1.0, 1.0):
        cx, w = side * 0.40, a["lung_w"] * (1.0 if side < 0 else 0.94)
        top, bottom = a["lung_top"], a["lung_bottom"]
        v = (y - top) / (bottom - top)  # 0 at apex, 1 at the costophrenic angle
        half_w = w * np.sqrt(np.clip(v, 0, None)) ** 0.55
        u = (x - cx) * side / np.maximum(half_w, 1e-3)  # -1 medial, +1 lateral
        dome = bottom - a["dome"] * np.clip(1 - ((u - 0.25) / 1.1) ** 2, 0, 1)
        inside = np.maximum.reduce([(np.abs(u) - 1) * half_w, top - y, y - dome])
        lung = _soft(inside, edge)
        lungs = np.maximum(lungs, lung)
        lung_frames.append((side, cx, w, top, bottom, u, v, lung))

    heart_w = a["ctr"] * 1.32 / 2
    heart_cx, heart_cy = 0.08 + 0.3 * (heart_w - 0.28), a["lung_bottom"] - 0.12
    heart = _soft(np.sqrt(((x - heart_cx) / heart_w) ** 2 + ((y - heart_cy) / 0.24) ** 2) - 1, 0.04) * (y < a["lung_bottom"] + 0.02)
    mediastinum = _soft(np.abs(x - 0.02) - 0.11 - 0.05 * np.clip(y + 0.3, 0, 1), edge) * (y < a["lung_bottom"])
    air = lungs * (1 - np.maximum(heart, mediastinum))
    markings = 0.5 + 0.5 * _smooth_noise(rng, size, 0.012)
    hilum = np.exp(-(((np.abs(x) - 0.2) / 0.18) ** 2 + ((y + 0.05) / 0.25) ** 2))
    vessel = np.clip(markings, 0, None) * (0.03 + 0.05 * hilum)

    spine = _soft(np.abs(x) - 0.07, edge) * (0.12 + 0.05 * (np.sin((y + a["rib_phase"]) * 34) > 0.6))
    ribs = np.zeros_like(x)
    for k in range(10):
        y0 = a["lung_top"] + 0.02 + k * 0.115 + a["rib_phase"]
        arc = y0 + 0.35 * (np.abs(x) - 0.08) ** 2 * (1 + 0.4 * k / 9) - 0.02 * np.abs(x)
        ribs += _soft(np.abs(y - arc) - 0.022, edge) * (np.abs(x) > 0.07)
    ribs = np.clip(ribs, 0, 1) * 0.07 * _soft(np.abs(x) - 0.78, 0.02)
    clav = np.zeros_like(x)
    for side in (-1.0, 1.0):
        t = np.clip((x * side - 0.08) / 0.5, 0, 1)
        clav += _soft(np.abs(y - (-0.78 - 0.09 * t + 0.12 * t**2)) - 0.025, edge) * (x * side > 0.08) * (x * side < 0.62)

    img = img - 0.30 * air + vessel * air + 0.18 * heart * 0.5 + spine + ribs + 0.12 * np.clip(clav, 0, 1)
    img += _lesions(case, x, y, lung_frames, air, params, size, edge)

    img = img * a["exposure"] + 0.012 * _smooth_noise(rng, size, 0.08)
    img = np.clip(img, 0, 1) ** a["gamma"]
    img = img + params.noise * rng.standard_normal(img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _lesions(case: Case, x, y, lung_frames, air, params: PhantomParams, size: int, edge: float) -> np.ndarray:
    out = np.zeros_like(x)
    gain = params.lesion_contrast
    frames = {frame[0]: frame for frame in lung_frames}
    for les in case.lesions:
        side, cx, w, top, bottom, u, v, lung = frames[les["side"]]
        lrng = np.random.default_rng(les["seed"])
        # Lesion centre inside the chosen lung, from normalised (u, v) lung coordinates.
        ly = top + les["v"] * (bottom - top) * 0.85
        lx = cx + side * (les["u"] - 0.5) * 1.4 * w * np.sqrt(les["v"]) ** 0.55
        kind = les["kind"]
        if kind in ("Nodule", "Mass"):
            theta = np.arctan2(y - ly, x - lx)
            lobes = 1 + (0.12 if kind == "Mass" else 0.05) * np.sin(3 * theta + lrng.uniform(0, 6.3))
            d = np.sqrt((x - lx) ** 2 + (y - ly) ** 2) / (les["r"] * lobes) - 1
            out += 0.24 * gain * _soft(d * les["r"], edge)
        elif kind == "Consolidation":
            patch = _smooth_noise(lrng, size, 0.04)
            region = _soft(np.sqrt((x - lx) ** 2 + ((y - ly) / 1.4) ** 2) - 0.2, 0.05)
            out += 0.22 * gain * region * _soft(-patch + 0.1, 0.4) * lung
        elif kind == "Effusion":
            # Fluid fills the base and climbs laterally (meniscus), blunting the costophrenic angle.
            surface = 1 - les["level"] * (1 + 0.45 * np.clip(u, -1, 1))
            fluid = _soft(surface - v, 0.03)
            out += 0.26 * gain * fluid * lung
        elif kind == "Pneumothorax":
            # Lateral-apical rim of pleural air: no lung markings, darker, with a visible pleural line.
            rim = np.clip(u, -1, 1) - (1 - les["depth"] * (1 - 0.6 * np.clip(v, 0, 1)))
            space = _soft(-rim, edge) * lung
            line = np.exp(-(rim / max(edge, 0.012)) ** 2) * lung
            out += gain * (-0.10 * space - 0.05 * space * air + 0.12 * line)
        elif kind in EXTRA_FINDINGS:
            out += gain * extra_sign(les, x, y, frames, lrng, size, edge, lx, ly)
    return out


@dataclass(frozen=True)
class PhantomSample:
    image: np.ndarray  # float32 (size, size) in [0, 1]
    target: int
    labels: np.ndarray  # int8 over NIH_LABELS
    findings: list[str]


def generate(seed: int, index: int, size: int, params: PhantomParams = PhantomParams(),
             positive: bool | None = None) -> PhantomSample:
    """Generate phantom image ``index`` of the stream ``seed`` at ``size`` pixels."""
    rng = case_rng(seed, index)
    case = sample_case(rng, params, positive)
    image = render_case(case, size, params, rng)
    return PhantomSample(image=image, target=case.target, labels=case.label_vector(), findings=case.findings)
