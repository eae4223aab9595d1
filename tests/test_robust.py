"""The robust table's walk (fixed-budget attacks over an ε ladder) and adversarially trained rows in Tables 1-2."""
import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from conftest import CONFIGS, ROOT, TINY
from test_tables import QUIET, record_of, results, rows_of, tiny, write_document  # noqa: F401  (fixtures)

from cxrbench.protocols.paper.figures import figure_variants
from cxrbench.records.schema import RECORD_SCHEMA_VERSION, RobustRecord, check_record
from cxrbench.protocols.paper.render import render_all
from cxrbench.records.selection import select_records
from cxrbench.protocols.robust.run import run_robust

WALK = ["robust=default", "train.input_size=75", "robust.variants={quick:[irv2],adversarial:[irv2]}", "grid.poolings=[max]",
        "robust.epsilons=[1,4]", "robust.iterations=2", "robust.images=6", "robust.attacks=[pgd,apgd]"]


def test_the_walk_writes_one_record_per_cell_never_rises_with_epsilon_and_resumes(tmp_path):
    overrides = TINY + WALK + [f"paths.results_dir={tmp_path / 'results'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    quiet = {"log": lambda _: None}
    first = run_robust(overrides, CONFIGS, ROOT, **quiet)
    assert (first["computed"], first["reused"]) == (8, 0)  # 2 variants x 2 attacks x 2 eps
    records = pd.DataFrame(first["records"])
    assert set(records["regime"]) == {"standard", "pgd-at"}
    assert records["image_set"].map(lambda s: s["digest"]).nunique() == 1  # twins attacked on the same images
    for _, cell in records.groupby(["regime", "attack"]):
        cell = cell.sort_values("epsilon")
        assert list(cell["epsilon_label"]) == ["1/255", "4/255"]
        assert cell["accuracy"].is_monotonic_decreasing and (cell["accuracy"] <= cell["clean_accuracy"]).all()
        assert cell["iterations"].eq(2).all()
    apgd = records[records["attack"] == "apgd"].iloc[0]
    assert apgd["attack_params"]["n_iter"] == 2 and "epsilon" not in apgd["attack_params"]  # search settings left out

    again = run_robust(overrides, CONFIGS, ROOT, **quiet)
    assert (again["computed"], again["reused"]) == (0, 8)
    largest = Path(max(first["records"], key=lambda r: (r["regime"], r["attack"], r["epsilon"]))["path"])
    largest.unlink()  # an interrupted walk: only the missing cell is redone
    resumed = run_robust(overrides, CONFIGS, ROOT, **quiet)
    assert (resumed["computed"], resumed["reused"]) == (1, 7)

    table = (tmp_path / "results" / "tables" / "robust" / "robust_accuracy.md").read_text()
    assert "| 0 | MP IR2 | 2 | 6 |" in table and "| 0 | MP IR2/PGD-AT | 2 | 6 |" in table
    assert "1/255 PGD | 1/255 APGD-CE | 1/255 worst of both | 4/255 PGD | 4/255 APGD-CE | 4/255 worst of both" in table
    long = rows_of(tmp_path / "results" / "tables" / "robust" / "robust_cells.csv")
    assert len(long) == 8 and all(float(r["accuracy_lo"]) <= float(r["accuracy"]) <= float(r["accuracy_hi"])
                                  for r in long)
    # The stored AUC is the worst case found's, named so; the record's ``auc`` no longer claims it.
    assert records["auc"].isna().all() and records["worst_case_auc"].between(0, 1).all()
    pairs = pd.read_csv(tmp_path / "results" / "tables" / "robust" / "apgd_vs_pgd_cells.csv")
    assert len(pairs) == 4   # 2 variants x 2 eps
    by_cell = records.set_index(["regime", "epsilon_label", "attack"])["accuracy"]   # the CSV rounds ε
    for p in pairs.itertuples(index=False):
        worst = min(by_cell[(p.regime, p.epsilon_label, "pgd")], by_cell[(p.regime, p.epsilon_label, "apgd")])
        assert p.accuracy <= worst + 1e-12   # the worst case over both is at most either attack's accuracy
        assert p.either == p.first_broken + p.second_only == p.second_broken + p.first_only
    assert "| PGD only | APGD-CE only | either |" in (tmp_path / "results" / "tables" / "robust" / "apgd_vs_pgd.md").read_text()


def _as_adversarially_trained(results: Path, kind: str, name: str) -> dict:
    document = {**record_of(results, kind, name), "regime": "pgd-at", "model_key": "tiny-irv2-at",
                "accuracy": 0.5 if kind == "clean" else 0.25}
    write_document(results / "records" / kind / f"{name}-at.json", document)
    return document


def test_an_adversarially_trained_model_gets_rows_of_its_own(results):
    _as_adversarially_trained(results, "clean", "irv2-max")
    _as_adversarially_trained(results, "attack", "white-box-irv2-max-fgsm")
    render_all(results, **QUIET)
    rows = rows_of(results / "tables" / "seed0" / "table1_whitebox.csv")
    standard = [r for r in rows if (r["pooling"], r["model"], r["metric"]) == ("MP", "IR2", "acc")]
    trained = [r for r in rows if (r["pooling"], r["model"], r["metric"]) == ("MP", "IR2/PGD-AT", "acc")]
    assert len(standard) == 1 and len(trained) == 1 and rows.index(trained[0]) > rows.index(standard[0])
    assert (trained[0]["clean"], trained[0]["G1"]) == ("0.5000", "0.2500")
    assert standard[0]["clean"] != "0.5000"
    selection = select_records(results, log=lambda _: None).seeds[0]
    assert ("irv2", "max", "pgd-at") in figure_variants(selection)


def test_a_version_2_record_reads_as_standard_training(results):
    path = results / "records" / "clean" / "irv2-max.json"
    document = json.loads(path.read_text())
    document.pop("regime")
    write_document(path, {**document, "schema": 2})
    selection = select_records(results, log=lambda _: None).seeds[0]
    assert selection.clean[("irv2", "max", "standard")]["model_key"] == document["model_key"]


def test_robust_settings_are_checked_before_any_work():
    import pytest

    from conftest import compose_config
    from cxrbench.errors import ConfigError

    with pytest.raises(ConfigError, match="'fgsm' has no fixed-ε run"):
        compose_config(["experiment=robust_quick", "robust.attacks=[pgd,fgsm]"])
    with pytest.raises(ConfigError, match="robust.epsilons must be positive"):
        compose_config(["experiment=robust_quick", "robust.epsilons=[0,1]"])
    with pytest.raises(ConfigError, match="unknown model in robust.variants.quick 'resnet'; choose one of"):
        compose_config(["experiment=robust_quick", "robust.variants={quick:[resnet]}"])


def test_pgd_and_apgd_are_compared_image_by_image_and_their_worst_case_is_either():
    from cxrbench.protocols.robust.compare import compare_pair

    ids = ["a", "b", "c", "d", "e"]
    # label 1 everywhere; "e" is misclassified clean (counted by neither attack).
    base = {"image_id": ids, "label": [1] * 5, "clean_prob": [0.9, 0.9, 0.9, 0.9, 0.2]}
    pgd = pd.DataFrame({**base, "adv_prob": [0.1, 0.9, 0.3, 0.9, 0.2], "broken": [True, False, True, False, True]})
    apgd = pd.DataFrame({**base, "adv_prob": [0.2, 0.4, 0.9, 0.9, 0.2], "broken": [True, True, False, False, True]})
    counts = compare_pair(pgd.set_index("image_id"), apgd.set_index("image_id").iloc[::-1])   # rows matched by id
    assert {k: counts[k] for k in ("first_broken", "second_broken", "first_only", "second_only", "either",
                                   "correct")} == {"first_broken": 2, "second_broken": 2, "first_only": 1,
                                                   "second_only": 1, "either": 3, "correct": 4}
    assert list(counts["prob"]) == [0.1, 0.4, 0.3, 0.9, 0.2]   # PGD's adversarial first, then APGD-CE's, else clean


def test_an_older_robust_record_reads_its_auc_as_the_worst_case_found():
    base = dict(seed=0, config={}, data={"source": "phantom"}, split={}, image_size=80, model="irv2", pooling="max",
                model_identity={}, model_key="k", training={}, images=4, n_positive=2, accuracy=0.5, auc=0.6,
                metrics={}, per_sample="p.parquet", device="cpu", wall_seconds=1.0)
    document = {**asdict(RobustRecord(**base)), "schema": RECORD_SCHEMA_VERSION}
    document.pop("worst_case_auc")   # written before the field existed: its ``auc`` was the worst case found
    assert check_record(document, "an older robust record")["worst_case_auc"] == 0.6
