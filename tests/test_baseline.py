"""The clean-baseline protocol (``protocol: baseline``): the smallest protocol, added as a plug-in.

Its footprint outside its own package is the registry line, its experiment and its line in the
import-layer contract (docs/extending.md); these tests run it end to end through the one entry.
"""
import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import CONFIGS, ROOT, TINY, run_cli

from cxrbench.app.report import render
from cxrbench.errors import ConfigError
from cxrbench.protocols import RenderRequest, get_protocol

#: DenseNet-121 at 32 px, both poolings: two tiny trainings.
CELLS = ["experiment=baseline_quick", "grid.models=[xrv_densenet121]", "train.input_size=32"]


def test_the_plan_lists_one_clean_pass_per_model_and_pooling_and_refuses_multilabel():
    plan = get_protocol("baseline").plan(["experiment=baseline_quick", "seeds=[0,1]"], CONFIGS)
    assert len(plan.items) == 2 * 2 * 2 and plan.base.protocol == "baseline"
    assert "xrv_densenet121/avg seed 1 (quick recipe): clean test pass" in plan.items
    with pytest.raises(ConfigError, match="binary task's clean records, not task=multilabel"):
        get_protocol("baseline").plan(["experiment=baseline_quick", "task=multilabel"], CONFIGS)


def test_the_baseline_runs_through_the_one_entry_reuses_its_models_and_renders_from_records(tmp_path):
    paths = [f"paths.results_dir={tmp_path / 'results'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    first = run_cli(*TINY, *CELLS, *paths)
    assert first.returncode == 0, first.stderr
    assert "2 models tested, 2 trained" in first.stdout
    again = run_cli(*TINY, *CELLS, *paths)
    assert again.returncode == 0 and "2 models tested, 0 trained" in again.stdout
    results = tmp_path / "results"
    records = {(r["model"], r["pooling"]): r for r in
               (json.loads(p.read_text()) for p in (results / "records" / "clean").glob("*.json"))}
    assert set(records) == {("xrv_densenet121", "max"), ("xrv_densenet121", "avg")}
    table = pd.read_csv(results / "tables" / "baseline" / "clean-phantom.csv", dtype=str)
    assert list(table["model"]) == ["AP DN121", "MP DN121"] and set(table["px"]) == {"32"}
    for _, row in table.iterrows():
        record = records["xrv_densenet121", "avg" if row["model"].startswith("AP") else "max"]
        point, interval = row["accuracy [95% CI]"].split(" [")
        lo, hi = (float(x) for x in interval.rstrip("]").split(", "))
        assert float(point) == pytest.approx(record["accuracy"], abs=5e-4) and lo <= float(point) <= hi
        assert row["ROC-AUC [95% CI]"].startswith(f"{record['auc']:.3f} [")
        assert (row["n"], row["with a finding"]) == (str(record["images"]), str(record["n_positive"]))
    # The report renders the same table from the records alone.
    before = (results / "tables" / "baseline" / "clean-phantom.md").read_bytes()
    (results / "tables" / "baseline" / "clean-phantom.md").unlink()
    render(results, RenderRequest(), log=lambda _: None)
    assert (results / "tables" / "baseline" / "clean-phantom.md").read_bytes() == before
