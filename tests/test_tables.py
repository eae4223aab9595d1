"""Tables 1 and 2 from records of a tiny real run: layout, missing cells, intervals, comparison."""
from __future__ import annotations

import csv
import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from tiny_models import blob_images, trained_tiny_cnn

from cxrbench.attacks import create_attack, get_attack_spec
from cxrbench.data.cache import build_cache, to_uint8
from cxrbench.data.datasets import CachedImageDataset
from cxrbench.errors import ConfigError
from cxrbench.evaluation.adversarial import craft, evaluate_on, summarize
from cxrbench.evaluation.metrics import binary_metrics
from cxrbench.reporting.bootstrap import bootstrap_metrics, stratified_resamples
from cxrbench.reporting.records import make_record, write_record
from cxrbench.reporting.render import render_all

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference"
KEYS = ("setting", "pooling", "model", "metric")
#: What the tiny run holds: max pooling only (AP rows stay empty), two attacks (other columns stay empty).
VARIANTS = (("irv2", "max"), ("nasnet", "max"))
ATTACKS = {"fgsm": {"steps": 100}, "contrast_reduction": {"steps": 50}}


def _probs(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model(x), 1)[:, 1].numpy()


def make_tiny_results(root: Path, seed: int = 0) -> Path:
    """Records as ``scripts/run.py`` writes them, from two tiny CNNs standing in for IR2 and NL."""
    results = root / "results"
    models = {"irv2": trained_tiny_cnn(seed=0), "nasnet": trained_tiny_cnn(seed=3)}
    x, y = blob_images(24, seed=11)
    y[[0, 5, 10]] = 1 - y[[0, 5, 10]]  # a few labels the models disagree with: intervals of non-zero width
    images = [to_uint8(img[0].numpy()) for img in x]
    ids = [f"img{i:02d}" for i in range(len(images))]
    cache = build_cache(root / "cache", {"source": "blobs"}, ids, 16, lambda row: images[row], progress=False)
    test = CachedImageDataset(cache, y.numpy(), np.zeros((len(ids), 14)))
    config = {"train": {"name": "quick"}, "data": {"source": "blobs"}, "seed": seed}
    common = {"config": config, "seed": seed, "split": {"name": "blobs"}, "root": ROOT, "data": {"source": "blobs"}}
    for model, pooling in VARIANTS:
        probs = _probs(models[model], x)
        per_sample = Path("predictions") / "clean" / f"{model}-{pooling}.parquet"
        (results / per_sample).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"image_id": ids, "label": y.numpy(), "prob": probs, "pred": (probs >= 0.5).astype(int)}
                     ).to_parquet(results / per_sample, index=False)
        metrics = binary_metrics(y.numpy(), probs)
        record = make_record("clean", metrics=metrics, model={"model": model, "pooling": pooling},
                             per_sample=str(per_sample), accuracy=metrics["accuracy"], auc=metrics["auc"], **common)
        write_record(results / "records" / "clean" / f"{model}-{pooling}.json", record)
    for attack, params in ATTACKS.items():
        spec = get_attack_spec(attack)
        for source, pooling in VARIANTS:
            crafted_dir = Path("adversarial") / f"{source}-{pooling}-{attack}"
            crafted = craft(create_attack(attack, **params), models[source], test, results / crafted_dir,
                            chunk_size=8, progress=False)
            for target, _ in VARIANTS:
                evaluated = evaluate_on(models[target], test, results / crafted_dir, target)
                metrics = summarize(crafted, evaluated)
                setting = "white-box" if source == target else "black-box"
                record = make_record(
                    "attack", metrics=metrics, attack=attack, attack_id=spec.paper_id, family=spec.family,
                    model=target, pooling=pooling, source=source, setting=setting, accuracy=metrics["accuracy"],
                    auc=metrics["auc"], success_rate=metrics["success_rate"], profile="quick", images=len(evaluated),
                    crafted=str(crafted_dir), per_sample=str(crafted_dir / f"eval-{target}.parquet"), **common)
                write_record(results / "records" / "attack" / f"{setting}-{target}-{pooling}-{attack}.json", record)
    return results


_MADE: dict[str, Path] = {}


def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run, made once per session (``test_figures`` reads it too)."""
    if "results" not in _MADE:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny convolutions: threads only add overhead
        try:
            _MADE["results"] = make_tiny_results(tmp_path_factory.mktemp("tiny"))
        finally:
            torch.set_num_threads(previous)
    return _MADE["results"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_results(tmp_path_factory)


@pytest.fixture
def results(tiny, tmp_path) -> Path:
    """A private copy of the tiny results, so a test may delete or add records."""
    return Path(shutil.copytree(tiny, tmp_path / "results"))


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _record(results: Path, kind: str, name: str) -> dict:
    return json.loads((results / "records" / kind / f"{name}.json").read_text())


@pytest.mark.parametrize("table, reference", [("table1_whitebox", "taghanaki2018_table1_whitebox.csv"),
                                              ("table2_blackbox", "taghanaki2018_table2_blackbox.csv")])
def test_tables_have_the_published_layout_and_the_records_values(results, table, reference):
    render_all(results, figures=False, resamples=200, log=lambda _: None)
    ours, published = _rows(results / "tables" / f"{table}.csv"), _rows(REFERENCE / reference)
    header = (results / "tables" / f"{table}.csv").read_text().splitlines()[0]
    assert header == (REFERENCE / reference).read_text().splitlines()[0]
    assert [tuple(r[k] for k in KEYS) for r in ours] == [tuple(r[k] for k in KEYS) for r in published]
    setting = "white-box" if table.startswith("table1") else "black-box"
    mp_ir2_acc = ours[0]
    clean = _record(results, "clean", "irv2-max")
    assert mp_ir2_acc["clean"] == f"{clean['accuracy']:.4f}"  # the row's own model, in both tables
    fgsm = _record(results, "attack", f"{setting}-irv2-max-fgsm")
    assert fgsm["source"] == ("irv2" if setting == "white-box" else "nasnet")  # black-box row = target tested on
    assert mp_ir2_acc[get_attack_spec("fgsm").paper_id] == f"{fgsm['accuracy']:.4f}"
    contrast = _record(results, "attack", f"{setting}-irv2-max-contrast_reduction")
    assert ours[1][get_attack_spec("contrast_reduction").paper_id] == f"{contrast['auc']:.4f}"


def test_a_missing_record_leaves_an_empty_cell(results):
    (results / "records" / "attack" / "white-box-nasnet-max-fgsm.json").unlink()
    render_all(results, figures=False, resamples=200, log=lambda _: None)
    rows = {(r["pooling"], r["model"], r["metric"]): r for r in _rows(results / "tables" / "table1_whitebox.csv")}
    g1, g2 = get_attack_spec("fgsm").paper_id, get_attack_spec("pgd").paper_id
    assert rows["MP", "NL", "acc"][g1] == "" and rows["MP", "IR2", "acc"][g1] != ""
    assert rows["MP", "IR2", "acc"][g2] == ""                       # never run
    assert all(v == "" for k, v in rows["AP", "IR2", "auc"].items() if k not in KEYS)
    md = (results / "tables" / "table1_whitebox.md").read_text().splitlines()
    nl_acc = next(line for line in md if line.startswith("|  | NL | Acc."))
    cells = [c.strip() for c in nl_acc.strip("|").split("|")]
    assert cells[3] != "—" and cells[4] == "—"                      # clean present, G1 gone
    tex = (results / "tables" / "table1_whitebox.tex").read_text()
    assert "AP & IR2 & Acc. & " + " & ".join(["---"] * 11) in tex
    ci = {(r["pooling"], r["model"], r["metric"]): r for r in _rows(results / "tables" / "table1_whitebox_ci.csv")}
    assert ci["MP", "NL", "acc"][f"{g1}_lo"] == "" and ci["MP", "IR2", "acc"][f"{g1}_lo"] != ""


def test_bootstrap_interval_contains_the_point_and_is_deterministic():
    rng = np.random.default_rng(1)
    labels = np.r_[np.ones(93, int), np.zeros(107, int)]
    probs = np.clip(0.5 + 0.25 * (labels - 0.5) + 0.3 * rng.standard_normal(200), 0, 1).round(2)  # ties included
    first = bootstrap_metrics(labels, probs, resamples=500, seed=0)
    assert first == bootstrap_metrics(labels, probs, resamples=500, seed=0)
    assert first != bootstrap_metrics(labels, probs, resamples=500, seed=1)
    assert first["auc"].point == pytest.approx(roc_auc_score(labels, probs))
    assert first["accuracy"].point == pytest.approx(binary_metrics(labels, probs)["accuracy"])
    for interval in first.values():
        assert interval.lo < interval.point < interval.hi and interval.hi - interval.lo < 0.3
    rows = stratified_resamples(labels, 50, seed=0)
    assert (labels[rows].sum(axis=1) == 93).all()                   # every resample keeps the class counts
    assert math.isnan(bootstrap_metrics(np.ones(5, int), np.linspace(0, 1, 5))["auc"].lo)


def test_table_intervals_contain_our_values(results):
    render_all(results, figures=False, resamples=300, log=lambda _: None)
    values = pd.read_csv(results / "tables" / "table1_whitebox.csv")
    ci = pd.read_csv(results / "tables" / "table1_whitebox_ci.csv")
    present = 0
    for column in values.columns[4:]:
        for v, lo, hi in zip(values[column], ci[f"{column}_lo"], ci[f"{column}_hi"]):
            if not math.isnan(v):
                present += 1
                assert lo - 1e-4 <= v <= hi + 1e-4
    assert present == 2 * 2 * (1 + len(ATTACKS))                   # 2 models x 2 metrics x (clean + attacks)
    assert "_{" in (results / "tables" / "table1_whitebox_ci.tex").read_text()


def test_comparison_is_ours_minus_published(results):
    render_all(results, figures=False, resamples=200, log=lambda _: None)
    for number in (1, 2):
        rows = _rows(results / "tables" / f"comparison_table{number}.csv")
        assert len(rows) == 8 * 11
        filled = [r for r in rows if r["ours"]]
        assert len(filled) == 2 * 2 * (1 + len(ATTACKS))
        for r in filled:
            assert float(r["difference"]) == pytest.approx(float(r["ours"]) - float(r["published"]), abs=1.5e-4)
        assert all(r["difference"] == "" and r["published"] for r in rows if not r["ours"])
    clean = _record(results, "clean", "irv2-max")["accuracy"]
    first = _rows(results / "tables" / "comparison_table1.csv")[0]
    assert (first["column"], first["published"]) == ("clean", "0.7000")
    assert float(first["difference"]) == pytest.approx(clean - 0.70, abs=1e-4)


def test_output_is_byte_deterministic(results):
    first = {name: path.read_bytes() for name, path in
             render_all(results, figures=False, resamples=200, log=lambda _: None).items()}
    second = {name: path.read_bytes() for name, path in
              render_all(results, figures=False, resamples=200, log=lambda _: None).items()}
    assert first == second and len(first) == 14
    assert not list((results / "tables").glob("*.tmp"))


def test_filters_and_the_newest_duplicate(results):
    path = results / "records" / "clean" / "irv2-max.json"
    newer = json.loads(path.read_text())
    newer.update(accuracy=0.123456, created="2999-01-01T00:00:00+0000")
    (path.parent / "irv2-max-rerun.json").write_text(json.dumps(newer))
    other_seed = dict(newer, seed=1, accuracy=0.5)
    (path.parent / "irv2-max-seed1.json").write_text(json.dumps(other_seed))
    with pytest.raises(ConfigError, match="--seed"):
        render_all(results, figures=False, log=lambda _: None)
    lines: list[str] = []
    render_all(results, seed=0, figures=False, resamples=200, log=lines.append)
    assert _rows(results / "tables" / "table1_whitebox.csv")[0]["clean"] == "0.1235"
    assert any("clean irv2 max: 2 records match; using the newest" in line for line in lines)
    assert any("1 of" in line and "left out by the filters" in line for line in lines)
    wrong = _record(results, "attack", "black-box-irv2-max-fgsm")
    wrong.update(source="irv2", created="2999-01-01T00:00:00+0000")  # says black-box, was white-box
    (results / "records" / "attack" / "contradictory.json").write_text(json.dumps(wrong))
    lines.clear()
    render_all(results, seed=0, figures=False, resamples=200, log=lines.append)
    assert any("contradictory.json: setting black-box but crafted on irv2" in line for line in lines)
    black = _record(results, "attack", "black-box-irv2-max-fgsm")
    g1 = get_attack_spec("fgsm").paper_id
    assert _rows(results / "tables" / "table2_blackbox.csv")[0][g1] == f"{black['accuracy']:.4f}"
    render_all(results, seed=0, train="paper", figures=False, resamples=200, log=lambda _: None)
    assert _rows(results / "tables" / "table1_whitebox.csv")[0]["clean"] == ""


def test_make_tables_script(results, capsys):
    spec = importlib.util.spec_from_file_location("make_tables", ROOT / "scripts" / "make_tables.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--results", str(results), "--resamples", "100", "--data", "blobs"]) == 0
    assert (results / "tables" / "table2_blackbox.tex").stat().st_size > 0
    assert script.main(["--results", str(results), "--data", "phantom"]) == 0  # filtered out: all cells empty
    assert _rows(results / "tables" / "table1_whitebox.csv")[0]["clean"] == ""
