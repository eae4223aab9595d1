"""Figures 1-4 from records of a tiny real run, and from partial or empty result grids."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from test_tables import ATTACKS, ROOT, VARIANTS, edit_record, results, tiny  # noqa: F401  (shared fixtures)

from cxrbench.protocols.paper import figures_stats
from cxrbench.protocols.paper.figures_stats import figure4, perceptibility_points, successful_disease_confidence
from cxrbench.protocols.paper.render import render_all
from cxrbench.records.selection import select_records

STEMS = ("figure1_examples", "figure2_perceptible", "figure3_confidence", "figure4_perceptibility")
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


def _check_written(written: dict[str, Path], seed: int = 0) -> None:
    assert sorted(written) == sorted(f"seed{seed}/{s}.{ext}" for s in STEMS for ext in MAGIC)
    for name, path in written.items():
        data = path.read_bytes()
        assert len(data) > 2000 and data.startswith(MAGIC[name.rsplit(".", 1)[1]]), name
        assert (path.parent.parent.name, path.parent.name) == ("figures", f"seed{seed}")


def _seed0(results: Path):
    return select_records(results, log=lambda _: None).seeds[0]


def test_figures_from_tiny_records(results):
    lines: list[str] = []
    _check_written(render_all(results, tables=False, log=lines.append))
    assert any("fig. 1 shows image" in line and f"fooled by {len(ATTACKS)} of {len(ATTACKS)}" in line
               for line in lines)  # the tiny run's gradient and decision attacks both fool some image
    points = perceptibility_points(_seed0(results))
    assert len(points) == len(ATTACKS) * len(VARIANTS)
    assert points["median_ssim"].between(0, 1).all() and (points["median_l2"] > 0).all()


def test_partial_and_empty_grids_do_not_crash(results, tmp_path):
    records = results / "records" / "attack"
    for path in records.glob("*nasnet*"):  # one variant has no attack records at all
        path.unlink()
    (records / "white-box-irv2-max-contrast_reduction.json").unlink()
    shutil.rmtree(results / "adversarial" / "irv2-max-fgsm")  # a record whose images are gone
    lines: list[str] = []
    _check_written(render_all(results, tables=False, log=lines.append))
    assert render_all(tmp_path / "empty", tables=False, log=lambda _: None) == {}  # no seed: nothing to draw
    _check_written(render_all(tmp_path / "empty", seed=3, tables=False, log=lambda _: None), seed=3)


def test_no_successful_attack_is_noted_not_plotted(results):
    # an attack that never succeeded: median sizes are NaN, the per-sample table has no fooled image
    path = results / "records" / "attack" / "white-box-irv2-max-contrast_reduction.json"
    record = json.loads(path.read_text())
    record["metrics"].update(median_ssim=float("nan"), median_l2=float("nan"))
    path.write_text(json.dumps(record))
    selection = _seed0(results)
    points = perceptibility_points(selection)
    assert points["median_ssim"].isna().sum() == 1
    written = figure4(selection, results / "figures")
    assert all(path.stat().st_size > 2000 for path in written.values())


def test_attack_confidence_counts_only_fooled_disease_images():
    samples = pd.DataFrame({"label": [1, 1, 1, 0, 1], "clean_pred": [1, 1, 0, 0, 1],
                            "adv_pred": [0, 1, 0, 1, 0], "adv_prob": [0.45, 0.9, 0.2, 0.7, 0.3]})
    assert successful_disease_confidence(samples).tolist() == pytest.approx([0.55, 0.7])


def test_report_script_draws_the_figures(results):
    spec = importlib.util.spec_from_file_location("report", ROOT / "scripts" / "report.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--results", str(results), "--train", "quick", "--figures-only"]) == 0
    assert all((results / "figures" / "seed0" / f"{s}.pdf").stat().st_size > 0 for s in STEMS)
    assert script.main(["--results", str(results), "--seed", "7", "--figures-only"]) == 2  # nothing selected: an error, no blank figures
    assert not (results / "figures" / "seed7").exists()


def test_a_weakened_attack_is_drawn_hollow_in_figure4(results, monkeypatch):
    edit_record(results, "attack", "white-box-irv2-max-fgsm", comparable_with_paper=False,
                deviations={"steps": {"paper": 1000, "used": 100}})
    selection = _seed0(results)
    points = perceptibility_points(selection)
    assert points["comparable"].tolist().count(False) == 1
    shown = {}
    monkeypatch.setattr(figures_stats, "save_figure", lambda fig, out_dir, stem: shown.setdefault("fig", fig) and {})
    figure4(selection, results / "figures")
    fig = shown["fig"]
    faces = [c.get_facecolors() for ax in fig.axes for c in ax.collections]
    hollow = [f for f in faces if len(f) == 0 or f[0][3] == 0]      # no face colour: drawn hollow
    assert len(faces) == 2 * len(points) and len(hollow) == 2         # the one weakened point, in both panels
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "Hollow markers" in notes and "G1 MP IR2 (steps 100 instead of 1000)" in notes.replace("\n", " ")
