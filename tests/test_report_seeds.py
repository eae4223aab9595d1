"""Seeds as a dimension: per-seed folders, and every cell's mean ± sample sd across seeds."""
from __future__ import annotations

import math

import pytest

from test_tables import edit_record, md_row, record_of, results, rows_of, tiny, write_document  # noqa: F401

from cxrbench.attacks import get_attack_spec
from cxrbench.errors import ConfigError
from cxrbench.protocols.paper.render import render_all

QUIET = {"resamples": 100, "log": lambda _: None}
SEED1_CLEAN_ACC = 0.5


def _add_seed1(results) -> None:
    """Seed 1: the same cells with other weights; MP IR2 clean accuracy 0.5; no white-box IR2 FGSM."""
    for path in sorted((results / "records").rglob("*.json")):
        if path.name == "white-box-irv2-max-fgsm.json":
            continue  # a cell that only seed 0 has
        document = record_of(results, path.parent.name, path.stem)
        document.update(seed=1, model_key=document["model_key"] + "-s1", config={**document["config"], "seed": 1})
        if document["kind"] == "attack":
            document.update(source_key=document["source_key"] + "-s1", cell_key=document["cell_key"] + "-s1")
        elif path.stem == "irv2-max":
            document["accuracy"] = SEED1_CLEAN_ACC
        write_document(path.with_name(f"{path.stem}-seed1.json"), document)


def test_per_seed_folders_and_the_mean_sd_table(results):
    _add_seed1(results)
    written = render_all(results, figures=False, **QUIET)
    for seed in (0, 1):
        assert (results / "tables" / f"seed{seed}" / "table1_whitebox.md").exists()
        assert f"seed{seed}/table1_whitebox.md" in written and f"seed{seed}/comparison_table2.csv" in written
    assert {"table1_whitebox_mean_sd.md", "table2_blackbox_mean_sd.csv"} <= set(written)
    assert rows_of(results / "tables" / "seed1" / "table1_whitebox.csv")[0]["clean"] == "0.5000"
    summary = rows_of(results / "tables" / "table1_whitebox_mean_sd.csv")
    seed0 = record_of(results, "clean", "irv2-max")["accuracy"]
    mean, sd = (seed0 + SEED1_CLEAN_ACC) / 2, abs(seed0 - SEED1_CLEAN_ACC) / math.sqrt(2)  # sample sd of two
    assert summary[0]["clean_mean"] == f"{mean:.4f}" and summary[0]["clean_sd"] == f"{sd:.4f}"
    assert summary[0]["clean_seeds"] == "2"
    g1 = get_attack_spec("fgsm").paper_id
    fgsm = record_of(results, "attack", "white-box-irv2-max-fgsm")["accuracy"]
    assert (summary[0][f"{g1}_mean"], summary[0][f"{g1}_sd"], summary[0][f"{g1}_seeds"]) == (f"{fgsm:.4f}", "", "1")
    md = results / "tables" / "table1_whitebox_mean_sd.md"
    cells = md_row(md, "| MP | IR2 | Acc.")
    assert cells[3] == f"{mean:.3f} ± {sd:.3f} (2/2)" and cells[4] == f"{fgsm:.3f} ± n/a (1/2)"
    assert f"{g1} MP IR2 acc (1 of 2)" in md.read_text()
    assert md_row(md, "| Pooling")[3:5] == ["Clean (n=24)", f"{g1} (n=16)"]


def test_seed_option_renders_one_seed(results):
    _add_seed1(results)
    written = render_all(results, seed=1, figures=False, **QUIET)
    assert {name.split("/")[0] for name in written if "/" in name} == {"seed1"}
    assert not (results / "tables" / "seed0").exists()
    assert rows_of(results / "tables" / "table1_whitebox_mean_sd.csv")[0]["clean_seeds"] == "1"


def test_a_mean_over_seeds_that_ran_other_attack_settings_is_refused(results):
    _add_seed1(results)
    edit_record(results, "attack", "black-box-irv2-max-fgsm-seed1", attack_params={"steps": 10})
    with pytest.raises(ConfigError, match=r"seed 0 .* and seed 1 .*attack parameters steps 100 vs 10.*--seed"):
        render_all(results, figures=False, **QUIET)
    assert render_all(results, seed=1, figures=False, **QUIET)  # one seed alone renders


def test_a_randomised_attack_seeded_by_its_run_still_averages_over_seeds(results):
    # A randomised attack takes the run's seed as its own ``seed`` parameter, so each seed's
    # records differ there by design (found when the 3-seed quick grid refused to render).
    _add_seed1(results)
    for path in sorted((results / "records" / "attack").glob("*.json")):
        seed = 1 if path.stem.endswith("-seed1") else 0
        edit_record(results, "attack", path.stem, attack_params={**record_of(results, "attack", path.stem)
                                                                 ["attack_params"], "seed": seed})
    written = render_all(results, figures=False, **QUIET)
    assert any("mean_sd" in str(path) for path in written.values())
