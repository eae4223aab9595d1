"""Kovalev & Voynov studies: budgets read off one trajectory, hand-computed study frames, tiny end-to-end studies."""
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import CONFIGS, ROOT, TINY, compose_config
from tiny_models import Threshold, blob_images, foolbox_model, trained_tiny_cnn

from cxrbench.attacks import PGD
from cxrbench.errors import ConfigError
from cxrbench.kit.pipeline import training_subset
from cxrbench.records.schema import check_record
from cxrbench.protocols.studies.frames import (budget_frame, confidence_frame, median_interval, minimal_frame,
                                             wilson)
from cxrbench.protocols.studies.run import run_study

QUIET = {"log": lambda _: None}


@pytest.fixture(scope="module")
def tiny():
    model = trained_tiny_cnn(seed=0)
    x, y = blob_images(12, seed=7)
    keep = model(x).argmax(1) == y
    return foolbox_model(model), x[keep], y[keep]


def test_a_trajectory_gives_exactly_what_every_shorter_run_returns(tiny):
    fmodel, x, y = tiny
    eps = 0.15   # the tiny CNN's images fall between step 4 and 8, one survives
    adv, fooled, first = PGD(rel_stepsize=0.2, iterations=8).run_trajectory(fmodel, x, y, eps)
    assert ((first >= 1) == fooled.numpy()).all() and (first <= 8).all()
    assert len(set(first[first > 0])) > 1, "the test needs images that fall at different steps"
    for k in range(1, 9):
        short_adv, short_fooled = PGD(rel_stepsize=0.2, iterations=k).run_fixed(fmodel, x, y, eps)
        assert (short_fooled.numpy() == ((first >= 1) & (first <= k))).all()
        assert torch.equal(short_adv[short_fooled], adv[short_fooled])  # the same first adversarial iterate


def test_a_trajectory_needs_early_return(tiny):
    fmodel, x, y = tiny
    with pytest.raises(ValueError, match="return_early"):
        PGD(return_early=False, iterations=2).run_trajectory(fmodel, x, y, 0.05)


@pytest.mark.parametrize("study", ["budget", "confidence", "train_size"])
def test_a_study_step_reaches_epsilon_within_the_smallest_reported_budget(study):
    # An image that needs 0.9 ε: with G2's step ε/30 it fell only at step 28, beyond Kovalev's 20 steps.
    from cxrbench.protocols.studies.cells import study_attack

    cfg = compose_config([f"experiment=study_{study}"]).study
    eps = 0.1
    x, y = torch.full((1, 1, 4, 4), 0.5), torch.zeros(1, dtype=torch.long)
    attack, params = study_attack(cfg, 0, CONFIGS)
    _, fooled, first = attack.run_trajectory(foolbox_model(Threshold(0.5 + 0.9 * eps)), x, y, eps)
    assert params["rel_stepsize"] == cfg.rel_stepsize
    assert fooled.all() and 1 <= first[0] <= min(cfg.report_iterations)


def test_wilson_interval_matches_hand_computed_values():
    assert wilson(5, 10).point == 0.5
    assert (round(wilson(5, 10).lo, 4), round(wilson(5, 10).hi, 4)) == (0.2366, 0.7634)
    assert (wilson(0, 10).lo, round(wilson(0, 10).hi, 4)) == (0.0, 0.2775)
    assert (round(wilson(10, 10).lo, 4), wilson(10, 10).hi) == (0.7225, 1.0)
    assert math.isnan(wilson(0, 0).point)
    assert median_interval(np.array([1.0, 2.0, 3.0])).point == 2.0


def _cell(measure: str, table: dict, **extra) -> dict:
    head = {"seed": 0, "variant": "MP IR2", "model": "irv2", "model_identity": {"input_size": 80}, "axis": None,
            "axis_value": 6, "train_images": 6, "measure": measure, "attack": "pgd", "attack_id": "G2",
            "epsilon": 0.01, "epsilon_label": "2.55/255", "iterations": 4, "image_size": 80}
    return {**head, **extra, "table": pd.DataFrame(table)}


FIXED = {"correct": [True, True, True, True, False, True], "first_hit": [1, 3, -1, 4, -1, 2],
         "clean_prob": [0.97, 0.02, 0.62, 1.0, 0.45, 0.81], "label": [1, 0, 1, 1, 1, 1]}


def test_budget_frame_reads_each_budget_off_the_first_fooling_step():
    frame = budget_frame([_cell("fixed", FIXED)]).set_index("iterations")
    # correct: 5 images; first fooling steps 1, 3, -, 4, 2 -> fooled by k = 1, 2, 3, 4: 1, 2, 3, 4
    assert list(frame["fooled"]) == [1, 2, 3, 4] and frame["n"].eq(5).all()
    assert frame.loc[2, "success"] == pytest.approx(2 / 5)
    assert frame.loc[4, "accuracy"] == pytest.approx(1 / 6)   # only the third image is still right
    assert list(budget_frame([_cell("fixed", FIXED)], [2, 9])["iterations"]) == [2]  # no budget beyond the run


def test_confidence_bins_count_correct_images_by_max_probability():
    frame = confidence_frame([_cell("fixed", FIXED)], bins=10, budget=2)
    assert len(frame) == 10 and frame["n"].sum() == 5   # the misclassified image is no attack's success
    counts = dict(zip(frame["bin_lo"].round(2), zip(frame["n"], frame["fooled"])))
    # confidences 0.97, 0.98, 0.62, 1.0 (last bin), 0.81; fooled within 2 steps: the 1st and the 6th
    assert counts[0.95] == (3, 1) and counts[0.6] == (1, 0) and counts[0.8] == (1, 1) and counts[0.5] == (0, 0)
    assert math.isnan(frame.set_index("bin_lo").loc[0.5, "success"])


def test_minimal_curve_counts_adversarials_within_each_epsilon():
    table = {"correct": [True, True, True, False], "success": [True, True, False, False],
             "linf": [0.002, 0.01, 0.0, 0.0]}
    frame = minimal_frame([_cell("minimal", table)], [0.001, 0.002, 0.05]).set_index("epsilon")
    assert list(frame["fooled"]) == [0, 1, 2] and frame["n"].eq(3).all()


def test_the_confidence_study_also_trains_without_label_smoothing():
    quick, plain = compose_config([]).train, compose_config(["train=quick_nosmooth"]).train
    assert plain.label_smoothing == 0.0 and quick.label_smoothing == 0.1
    assert replace(plain, name="quick", label_smoothing=0.1) == quick   # nothing else differs
    variants = compose_config(["experiment=study_confidence"]).study.variants
    assert variants["quick_nosmooth"] == variants["quick"] == ["irv2", "nasnet"]


def test_nested_training_subsets_keep_prevalence_and_the_whole_split_keeps_its_key(tmp_path):
    from cxrbench.data import create_data_source
    from cxrbench.data.build import build_data

    cfg = compose_config(TINY + ["data.n_train=40"], tmp_path)
    data = build_data(create_data_source(cfg.data, ROOT), 80, tmp_path / "cache", progress=False)
    rows = {}
    for n in (10, 20, 30):
        train, sub = training_subset(replace(cfg.train, train_size=n), data, 0)
        rows[n] = set(sub.train.rows)
        assert len(sub.train) == n and train.train_size == n and sub.val is data.val and sub.test is data.test
    assert rows[10] < rows[20] < rows[30]
    whole, same = training_subset(replace(cfg.train, train_size=40), data, 0)
    assert whole.train_size is None and same.train is data.train  # the whole split: the plain recipe and key
    with pytest.raises(ConfigError, match="exceeds the training split"):
        training_subset(replace(cfg.train, train_size=41), data, 0)


@pytest.mark.parametrize("override, message", [
    ("study.attack=apgd", "no per-step trajectory"), ("study.report_iterations=[60]", "outside 1..study.iterations"),
    ("study.name=budgte", "study.name"), ("study.axis=train_sise", "study.axis"),
    ("study.epsilons_unit=[2]", "pixel units"), ("study.minimal=[pgdd]", "pgdd"),
    ("study.rel_stepsize=0", "rel_stepsize")])
def test_study_settings_are_checked_before_any_work(override, message):
    with pytest.raises(ConfigError, match=message):
        compose_config(["experiment=study_budget", override])


def _study(tmp_path: Path, *overrides: str) -> list[str]:
    return TINY + ["train.input_size=75", "grid.poolings=[max]", "study.variants={quick:[irv2]}", "study.images=6",
                   f"paths.results_dir={tmp_path / 'results'}", f"paths.cache_dir={tmp_path / 'cache'}", *overrides]


def test_a_budget_study_runs_end_to_end_and_resumes_at_the_missing_cell(tmp_path):
    overrides = _study(tmp_path, "experiment=study_budget", "study.epsilons=[1,8]", "study.epsilons_unit=[0.05]",
                       "study.iterations=3", "study.report_iterations=[2,3]", "study.minimal=[fgsm]")
    first = run_study(overrides, CONFIGS, ROOT, **QUIET)
    assert (first["computed"], first["reused"]) == (4, 0)   # 3 fixed-ε runs + 1 minimal-ε search
    fixed = [r for r in first["records"] if r["measure"] == "fixed"]
    assert sorted(r["epsilon_label"] for r in fixed) == ["1/255", "12.75/255", "8/255"]
    assert all(r["iterations"] == 3 and r["image_set"]["n"] == 6 for r in fixed)
    assert all(r["rel_stepsize"] == 0.125 and r["success_rule"] == "first-hit" for r in fixed)
    # The stored AUC is named for what it is; ``auc`` holds no worst-case number any more.
    assert all(math.isnan(r["auc"]) and 0 <= r["worst_case_auc"] <= 1 and "worst_case_auc" in r["metrics"]
               for r in first["records"])
    assert len({r["image_set"]["digest"] for r in first["records"]}) == 1   # every cell on the same images
    Path(fixed[0]["path"]).unlink()
    resumed = run_study(overrides, CONFIGS, ROOT, **QUIET)
    assert (resumed["computed"], resumed["reused"]) == (1, 3)
    out = tmp_path / "results" / "tables" / "studies" / "budget"
    table = (out / "success_vs_epsilon.md").read_text()
    assert "step ε/8" in table and "first-hit" in table
    assert "step ε/8" in (out / "success_vs_iterations.md").read_text()
    assert "| seed | variant | iterations | n | 1/255 | 8/255 | 12.75/255 |" in table
    assert "| 0 | MP IR2 | 2 |" in table and "| 0 | MP IR2 | 3 |" in table
    assert "G1 minimal" in (out / "minimal_vs_fixed.md").read_text()
    long = pd.read_csv(out / "budget_cells.csv")
    assert sorted(long["iterations"].unique()) == [1, 2, 3] and (long["success_lo"] <= long["success_hi"]).all()
    figures = tmp_path / "results" / "figures"
    assert all((figures / f"study_budget_{name}.{ext}").stat().st_size > 0
               for name in ("epsilon", "iterations") for ext in ("png", "pdf"))


def test_a_new_step_is_a_new_cell_and_older_records_read_their_auc_as_the_worst_case(tmp_path):
    overrides = _study(tmp_path, "experiment=study_budget", "study.epsilons=[1]", "study.epsilons_unit=[]",
                       "study.iterations=2", "study.report_iterations=[2]", "study.minimal=[]")
    first = run_study(overrides, CONFIGS, ROOT, **QUIET)
    other = run_study(overrides + ["study.rel_stepsize=0.5"], CONFIGS, ROOT, **QUIET)
    assert (first["computed"], other["computed"], other["reused"]) == (1, 1, 0)   # the step is in the cell key
    assert other["records"][0]["cell_key"] != first["records"][0]["cell_key"]
    older = {k: v for k, v in first["records"][0].items() if k not in ("worst_case_auc", "rel_stepsize", "success_rule")}
    older = check_record({**older, "auc": 0.75, "attack_params": {**older["attack_params"], "rel_stepsize": 1 / 30}},
                         "an older study record")
    assert (older["worst_case_auc"], older["rel_stepsize"], older["success_rule"]) == (0.75, 1 / 30, "first-hit")


def test_train_size_and_confidence_studies_render_their_tables(tmp_path):
    report = run_study(_study(tmp_path, "experiment=study_train_size", "study.values=[12,24]", "study.epsilons=[2]",
                              "study.iterations=2", "study.report_iterations=[2]"), CONFIGS, ROOT, **QUIET)
    assert sorted(r["train_images"] for r in report["records"]) == [12, 24]
    assert len({r["model_key"] for r in report["records"]}) == 2
    # The subset models write no clean record that Tables 1-2 would read as the standard IRv2/max cell.
    assert not (tmp_path / "results" / "records" / "clean").exists()
    rows = pd.read_csv(tmp_path / "results" / "tables" / "studies" / "train_size" / "train_size.csv")
    assert list(rows["train_images"]) == [12, 24] and "2/255" in rows.columns

    report = run_study(_study(tmp_path, "experiment=study_confidence",
                              "study.variants={quick:[irv2],quick_nosmooth:[irv2],adversarial:[]}",
                              "study.images=null", "study.epsilons=[2]", "study.iterations=2",
                              "study.report_iterations=[2]"), CONFIGS, ROOT, **QUIET)
    out = tmp_path / "results" / "tables" / "studies" / "confidence"
    bins = pd.read_csv(out / "confidence_cells.csv")
    correct = sum(pd.read_parquet(tmp_path / "results" / r["per_sample"])["correct"].sum() for r in report["records"])
    assert len(bins) == 20 and bins["n"].sum() == correct   # one row of bins per recipe, not one merged row
    assert sorted(r["config"]["train"]["label_smoothing"] for r in report["records"]) == [0.0, 0.1]
    table = (out / "confidence_bins.md").read_text()
    assert "| 0 | quick (label smoothing 0.1) | MP IR2 |" in table
    assert "| 0 | quick_nosmooth (no label smoothing) | MP IR2 |" in table
    assert (tmp_path / "results" / "figures" / "study_confidence.png").exists()


def test_a_resolution_study_renders_the_same_cases_at_each_size(tmp_path):
    report = run_study(_study(tmp_path, "experiment=study_resolution", "study.values=[75,80]",
                              "study.minimal=[single_pixel]"), CONFIGS, ROOT, **QUIET)
    assert sorted(r["image_size"] for r in report["records"]) == [75, 80]
    assert len({r["crafted"] for r in report["records"]}) == 2
    assert len({tuple(pd.read_parquet(tmp_path / "results" / r["per_sample"])["image_id"])
                for r in report["records"]}) == 1   # the same phantom cases at both sizes
    rows = pd.read_csv(tmp_path / "results" / "tables" / "studies" / "resolution" / "resolution.csv")
    assert list(rows["px"]) == [75, 80] and set(rows["attack"]) == {"S2"}
    assert (tmp_path / "results" / "figures" / "study_resolution.pdf").exists()
