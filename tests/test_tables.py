"""Tables 1 and 2 from v2 records of a tiny real run: layout, n, intervals, clean on the same images,
weakened cells, the comparison and the bootstrap's decision rule."""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import math
import re
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
from cxrbench.data.datasets import CachedImageDataset, SubsetView
from cxrbench.evaluation.adversarial import craft, load_adversarials, load_table
from cxrbench.evaluation.metrics import binary_metrics, finding_probability, predicted
from cxrbench.io import atomic_write_json
from cxrbench.reporting.bootstrap import bootstrap_metrics, stratified_resamples
from cxrbench.protocols.paper.render import render_all
from cxrbench.records.schema import AttackRecord, CleanRecord, to_document

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference"
KEYS = ("setting", "pooling", "model", "metric")
#: What the tiny run holds: max pooling only (AP rows stay empty), two attacks (other columns stay empty).
VARIANTS = (("irv2", "max"), ("nasnet", "max"))
ATTACKS = {"fgsm": {"steps": 100}, "contrast_reduction": {"steps": 50}}
N_TEST = 24      #: the Clean column is over all test images ...
N_ATTACKED = 16  #: ... the attack columns over the first 16 only, as ``attack.images`` subsets do


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _probs(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return finding_probability(model(x))


def write_document(path: Path, document: dict) -> None:
    """Write a record document as the pipeline does (atomic JSON), without its in-memory ``path``."""
    atomic_write_json(path, {k: v for k, v in document.items() if k not in ("path", "_file")})


def make_tiny_results(root: Path, seed: int = 0) -> Path:
    """v2 records as ``scripts/run.py`` writes them, from two tiny CNNs standing in for IR2 and NL.

    The adversarials are crafted for real (Figs. 1-2 read them); the per-sample Parquets are built
    here from the tiny CNNs' probabilities with the documented columns, so the fixture does not
    depend on the evaluation helpers' signatures.
    """
    results = root / "results"
    models = {"irv2": trained_tiny_cnn(seed=0), "nasnet": trained_tiny_cnn(seed=3)}
    x, y = blob_images(N_TEST, seed=11)
    y[[0, 5, 10]] = 1 - y[[0, 5, 10]]  # a few labels the models disagree with: intervals of non-zero width
    images = [to_uint8(img[0].numpy()) for img in x]
    ids = [f"img{i:02d}" for i in range(len(images))]
    cache = build_cache(root / "cache", {"source": "blobs"}, ids, 16, lambda row: images[row], progress=False)
    test = CachedImageDataset(cache, y.numpy(), np.zeros((len(ids), 14)))
    x_test, labels = test.batch(np.arange(N_TEST))
    labels = labels.numpy()
    config = {"train": {"name": "quick"}, "data": {"source": "blobs"}, "seed": seed}
    common = {"seed": seed, "config": config, "data": {"source": "blobs"},
              "split": {"name": "blobs", "digest": _digest(ids), "sizes": {"test": N_TEST}}, "image_size": 16,
              "training": {"steps": 150}, "device": "cpu", "wall_seconds": 0.0}
    keys = {m: f"tiny-{m}-seed{seed}" for m, _ in VARIANTS}
    clean_probs = {}
    for model, pooling in VARIANTS:
        probs = clean_probs[model] = _probs(models[model], x_test)
        per_sample = Path("predictions") / "clean" / f"{model}-{pooling}.parquet"
        (results / per_sample).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"image_id": ids, "label": labels, "prob": probs, "pred": predicted(probs)}
                     ).to_parquet(results / per_sample, index=False)
        metrics = binary_metrics(labels, probs)
        record = CleanRecord(model=model, pooling=pooling, model_identity={"model": model, "pooling": pooling},
                             model_key=keys[model], images=N_TEST, n_positive=int(labels.sum()),
                             accuracy=metrics["accuracy"], auc=metrics["auc"], metrics=metrics,
                             per_sample=str(per_sample), **common)
        write_document(results / "records" / "clean" / f"{model}-{pooling}.json", to_document(record, ROOT))
    rows = np.arange(N_ATTACKED)
    subset = SubsetView(test, rows)
    image_set = {"n": N_ATTACKED, "n_positive": int(labels[rows].sum()), "digest": _digest(subset.ids)}
    for attack, params in ATTACKS.items():
        spec = get_attack_spec(attack)
        cell_key = _digest({"attack": attack, "params": params, "images": image_set})
        for source, pooling in VARIANTS:
            crafted_dir = Path("adversarial") / f"{source}-{pooling}-{attack}"
            craft(create_attack(attack, **params), models[source], subset, results / crafted_dir,
                  chunk_size=8, progress=False)
            crafted = load_table(results / crafted_dir)
            adversarial = torch.from_numpy(load_adversarials(results / crafted_dir))
            succeeded = crafted[crafted["success"]]
            for target, _ in VARIANTS:
                clean, adv = clean_probs[target][rows], _probs(models[target], adversarial)
                per_sample = crafted_dir / f"eval-{target}.parquet"
                pd.DataFrame({"image_id": subset.ids, "label": labels[rows], "clean_prob": clean,
                              "clean_pred": predicted(clean), "adv_prob": adv, "adv_pred": predicted(adv)}
                             ).to_parquet(results / per_sample, index=False)
                adv_metrics, clean_metrics = binary_metrics(labels[rows], adv), binary_metrics(labels[rows], clean)
                correct = predicted(clean) == labels[rows]
                setting = "white-box" if source == target else "black-box"
                metrics = {**adv_metrics, "median_ssim": float(np.median(succeeded["ssim"])) if len(succeeded)
                           else math.nan, "median_l2": float(np.median(succeeded["l2"])) if len(succeeded)
                           else math.nan}
                record = AttackRecord(
                    model=target, pooling=pooling, model_identity={"model": target, "pooling": pooling},
                    model_key=keys[target], images=N_ATTACKED, n_positive=image_set["n_positive"],
                    accuracy=adv_metrics["accuracy"], auc=adv_metrics["auc"], metrics=metrics,
                    per_sample=str(per_sample), setting=setting, source=source, source_key=keys[source],
                    attack=attack, attack_id=spec.paper_id, attack_title=spec.title, family=spec.family,
                    profile="quick", attack_params=params, image_set=image_set, cell_key=cell_key,
                    clean_accuracy=clean_metrics["accuracy"], clean_auc=clean_metrics["auc"],
                    success_rate=float((correct & (predicted(adv) != labels[rows])).sum() / max(correct.sum(), 1)),
                    crafted=str(crafted_dir), **common)
                write_document(results / "records" / "attack" / f"{setting}-{target}-{pooling}-{attack}.json",
                               to_document(record, ROOT))
    return results


_MADE: dict[str, Path] = {}


def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run, made once per session (``test_figures`` and ``test_report_seeds`` read it too)."""
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


def rows_of(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def record_of(results: Path, kind: str, name: str) -> dict:
    return json.loads((results / "records" / kind / f"{name}.json").read_text())


def edit_record(results: Path, kind: str, name: str, **changes) -> dict:
    """Change fields of a stored record in place (a stand-in for a run with other settings)."""
    document = {**record_of(results, kind, name), **changes}
    write_document(results / "records" / kind / f"{name}.json", document)
    return document


def md_row(path: Path, label: str, grid: int = 0) -> list[str]:
    """The cells of the ``grid``-th Markdown grid's row starting with ``label`` (e.g. ``| MP | IR2 | Acc.``)."""
    found = [line for line in path.read_text().splitlines() if line.startswith(label)]
    return [c.strip() for c in found[grid].strip("|").split("|")]


def md_head(path: Path) -> list[str]:
    line = next(line for line in path.read_text().splitlines() if line.startswith("| Pooling"))
    return [c.strip() for c in line.strip("|").split("|")]


TABLES = {"table1_whitebox": "taghanaki2018_table1_whitebox.csv",
          "table2_blackbox": "taghanaki2018_table2_blackbox.csv"}
QUIET = {"figures": False, "resamples": 200, "log": lambda _: None}


@pytest.mark.parametrize("table, reference", list(TABLES.items()))
def test_tables_have_the_published_layout_and_the_records_values(results, table, reference):
    render_all(results, **QUIET)
    ours, published = rows_of(results / "tables" / "seed0" / f"{table}.csv"), rows_of(REFERENCE / reference)
    for companion in ("", "_n", "_clean_same_images"):  # values, n and clean-on-same-images: one layout
        header = (results / "tables" / "seed0" / f"{table}{companion}.csv").read_text().splitlines()[0]
        assert header == (REFERENCE / reference).read_text().splitlines()[0]
    assert [tuple(r[k] for k in KEYS) for r in ours] == [tuple(r[k] for k in KEYS) for r in published]
    setting = "white-box" if table.startswith("table1") else "black-box"
    mp_ir2_acc = ours[0]
    clean = record_of(results, "clean", "irv2-max")
    assert mp_ir2_acc["clean"] == f"{clean['accuracy']:.4f}"  # the row's own model, in both tables
    fgsm = record_of(results, "attack", f"{setting}-irv2-max-fgsm")
    assert fgsm["source"] == ("irv2" if setting == "white-box" else "nasnet")  # black-box row = target tested on
    assert mp_ir2_acc[get_attack_spec("fgsm").paper_id] == f"{fgsm['accuracy']:.4f}"
    contrast = record_of(results, "attack", f"{setting}-irv2-max-contrast_reduction")
    assert ours[1][get_attack_spec("contrast_reduction").paper_id] == f"{contrast['auc']:.4f}"


def test_a_missing_record_leaves_an_empty_cell(results):
    (results / "records" / "attack" / "white-box-nasnet-max-fgsm.json").unlink()
    render_all(results, **QUIET)
    out = results / "tables" / "seed0"
    rows = {(r["pooling"], r["model"], r["metric"]): r for r in rows_of(out / "table1_whitebox.csv")}
    g1, g2 = get_attack_spec("fgsm").paper_id, get_attack_spec("pgd").paper_id
    assert rows["MP", "NL", "acc"][g1] == "" and rows["MP", "IR2", "acc"][g1] != ""
    assert rows["MP", "IR2", "acc"][g2] == ""                       # never run
    assert all(v == "" for k, v in rows["AP", "IR2", "auc"].items() if k not in KEYS)
    n = {(r["pooling"], r["model"], r["metric"]): r for r in rows_of(out / "table1_whitebox_n.csv")}
    assert n["MP", "NL", "acc"][g1] == "" and n["MP", "IR2", "acc"][g1] == str(N_ATTACKED)
    cells = md_row(out / "table1_whitebox.md", "|  | NL | Acc.")
    assert cells[3] != "—" and cells[4] == "—"                      # clean present, G1 gone
    tex = (out / "table1_whitebox.tex").read_text()
    assert "AP & IR2 & Acc. & " + " & ".join(["---"] * 11) in tex
    ci = {(r["pooling"], r["model"], r["metric"]): r for r in rows_of(out / "table1_whitebox_ci.csv")}
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


def test_bootstrap_counts_a_probability_of_exactly_one_half_as_no_finding():
    # the project's rule is P > 0.5 (argmax of two logits, ties to "no finding"); ">= 0.5" would flip these
    labels = np.array([1, 1, 0, 0])
    probs = np.array([0.5, 0.9, 0.5, 0.1])
    intervals = bootstrap_metrics(labels, probs, resamples=50, seed=0)
    assert intervals["accuracy"].point == pytest.approx(0.75)       # the positive at 0.5 is missed
    assert intervals["accuracy"].point == pytest.approx(binary_metrics(labels, probs)["accuracy"])
    assert bootstrap_metrics(np.array([0, 0, 1]), np.array([0.5, 0.5, 0.7]), resamples=20)["accuracy"].point == 1.0


def test_table_intervals_contain_our_values(results):
    render_all(results, **{**QUIET, "resamples": 300})
    values = pd.read_csv(results / "tables" / "seed0" / "table1_whitebox.csv")
    ci = pd.read_csv(results / "tables" / "seed0" / "table1_whitebox_ci.csv")
    present = 0
    for column in values.columns[4:]:
        for v, lo, hi in zip(values[column], ci[f"{column}_lo"], ci[f"{column}_hi"]):
            if not math.isnan(v):
                present += 1
                assert lo - 1e-4 <= v <= hi + 1e-4
    assert present == 2 * 2 * (1 + len(ATTACKS))                   # 2 models x 2 metrics x (clean + attacks)
    assert "_{" in (results / "tables" / "seed0" / "table1_whitebox_ci.tex").read_text()


def test_markdown_states_n_per_column_and_the_interval_in_each_cell(results):
    render_all(results, **QUIET)
    out = results / "tables" / "seed0"
    g1, d2 = get_attack_spec("fgsm").paper_id, get_attack_spec("contrast_reduction").paper_id
    head = md_head(out / "table1_whitebox.md")
    assert head[3] == f"Clean (n={N_TEST})" and head[4] == f"{g1} (n={N_ATTACKED})" and head[5] == "G2"
    ci = {(r["pooling"], r["model"], r["metric"]): r for r in rows_of(out / "table1_whitebox_ci.csv")}
    values = {(r["pooling"], r["model"], r["metric"]): r for r in rows_of(out / "table1_whitebox.csv")}
    cell = md_row(out / "table1_whitebox.md", "| MP | IR2 | Acc.")[4]
    lo, hi = float(ci["MP", "IR2", "acc"][f"{g1}_lo"]), float(ci["MP", "IR2", "acc"][f"{g1}_hi"])
    assert cell == f"{float(values['MP', 'IR2', 'acc'][g1]):.3f} [{lo:.2f}, {hi:.2f}]"
    assert f"n per column (test images each value is over): Clean {N_TEST}, {g1} {N_ATTACKED}" in (
        out / "table1_whitebox.tex").read_text()
    # a column whose cells are over different image counts says so in the header and in each cell
    edit_record(results, "attack", "white-box-nasnet-max-contrast_reduction", images=12)
    render_all(results, **QUIET)
    assert md_head(out / "table1_whitebox.md")[4 + 6] == f"{d2} (n varies)"
    assert md_row(out / "table1_whitebox.md", "|  | NL | Acc.")[4 + 6].endswith("(n=12)")
    assert md_row(out / "table1_whitebox.md", "| MP | IR2 | Acc.")[4 + 6].endswith(f"(n={N_ATTACKED})")


def test_clean_same_images_grid_equals_the_clean_predictions_on_the_attacked_ids(results):
    render_all(results, **QUIET)
    out = results / "tables" / "seed0"
    for table, setting in (("table1_whitebox", "white-box"), ("table2_blackbox", "black-box")):
        grid = {(r["model"], r["metric"]): r for r in rows_of(out / f"{table}_clean_same_images.csv")
                if r["pooling"] == "MP"}
        for model, label in (("irv2", "IR2"), ("nasnet", "NL")):
            clean = pd.read_parquet(results / record_of(results, "clean", f"{model}-max")["per_sample"])
            assert grid[label, "acc"]["clean"] == f"{binary_metrics(clean['label'], clean['prob'])['accuracy']:.4f}"
            for attack in ATTACKS:
                record = record_of(results, "attack", f"{setting}-{model}-max-{attack}")
                attacked = pd.read_parquet(results / record["per_sample"])["image_id"]
                same = clean[clean["image_id"].isin(attacked)]
                assert len(same) == N_ATTACKED < len(clean)
                expected = binary_metrics(same["label"], same["prob"])
                column = get_attack_spec(attack).paper_id
                assert grid[label, "acc"][column] == f"{expected['accuracy']:.4f}"
                assert grid[label, "auc"][column] == f"{expected['auc']:.4f}"
    text = (out / "table1_whitebox.md").read_text()
    assert "## Clean accuracy / AUC of the target on each column's attacked images" in text
    second = md_row(out / "table1_whitebox.md", "| MP | IR2 | Acc.", grid=1)
    g1_clean = rows_of(out / "table1_whitebox_clean_same_images.csv")[0][get_attack_spec("fgsm").paper_id]
    assert second[4].startswith(f"{float(g1_clean):.3f} [")


def test_a_weakened_attack_is_marked_and_left_out_of_the_mean_difference(results):
    weakened = "white-box-irv2-max-contrast_reduction"
    edit_record(results, "attack", weakened, comparable_with_paper=False,
                deviations={"steps": {"paper": 1000, "used": 50}})
    render_all(results, **QUIET)
    out = results / "tables" / "seed0"
    d2 = get_attack_spec("contrast_reduction").paper_id
    column = 3 + ["clean", *[f"G{i}" for i in range(1, 6)], "D1", "D2"].index(d2)
    assert "†" in md_row(out / "table1_whitebox.md", "| MP | IR2 | Acc.")[column]
    assert "†" not in md_row(out / "table1_whitebox.md", "|  | NL | Acc.")[column]
    assert f"{d2} (MP IR2): steps 50 instead of 1000" in (out / "table1_whitebox.md").read_text()
    assert "^{\\dagger}" in (out / "table1_whitebox.tex").read_text()
    value = round(record_of(results, "attack", weakened)["accuracy"], 2)
    assert f"${value:.2f}^{{\\dagger}}{{}}_{{" in (out / "table1_whitebox_ci.tex").read_text()  # no double ^
    rows = rows_of(out / "comparison_table1.csv")
    assert {r["comparable"] for r in rows if r["column"] == d2 and r["model"] == "IR2" and r["pooling"] == "MP"} \
        == {"false"}
    assert {r["comparable"] for r in rows if not r["ours"]} == {""}
    # by hand: |ours - published| over the white-box cells we have, without MP IR2 D2 (acc and auc)
    published = {(r["pooling"], r["model"], r["metric"]): r for r in rows_of(REFERENCE / TABLES["table1_whitebox"])}
    differences = []
    for model, label in (("irv2", "IR2"), ("nasnet", "NL")):
        for metric in ("acc", "auc"):
            field = {"acc": "accuracy", "auc": "auc"}[metric]
            ref = published["MP", label, metric]
            differences.append(abs(record_of(results, "clean", f"{model}-max")[field] - float(ref["clean"])))
            for attack in ATTACKS:
                name = f"white-box-{model}-max-{attack}"
                if name != weakened:
                    ours = record_of(results, "attack", name)[field]
                    differences.append(abs(ours - float(ref[get_attack_spec(attack).paper_id])))
    text = (out / "comparison_table1.md").read_text()
    assert len(differences) == 10
    assert (f"Mean |ours − published| over the 10 of 88 cells we have that are comparable with the paper: "
            f"{sum(differences) / len(differences):.3f}. Left out: 2 cell(s)") in text


def test_comparison_is_ours_minus_published(results):
    render_all(results, **QUIET)
    for number in (1, 2):
        rows = rows_of(results / "tables" / "seed0" / f"comparison_table{number}.csv")
        assert len(rows) == 8 * 11
        filled = [r for r in rows if r["ours"]]
        assert len(filled) == 2 * 2 * (1 + len(ATTACKS)) and {r["comparable"] for r in filled} == {"true"}
        for r in filled:
            assert float(r["difference"]) == pytest.approx(float(r["ours"]) - float(r["published"]), abs=1.5e-4)
        assert all(r["difference"] == "" and r["published"] for r in rows if not r["ours"])
    clean = record_of(results, "clean", "irv2-max")["accuracy"]
    first = rows_of(results / "tables" / "seed0" / "comparison_table1.csv")[0]
    assert (first["column"], first["published"]) == ("clean", "0.7000")
    assert float(first["difference"]) == pytest.approx(clean - 0.70, abs=1e-4)
    head = md_head(results / "tables" / "seed0" / "comparison_table1.md")
    assert head[3] == f"Clean (n={N_TEST})"


def test_output_is_byte_deterministic(results):
    first = {name: path.read_bytes() for name, path in render_all(results, **QUIET).items()}
    second = {name: path.read_bytes() for name, path in render_all(results, **QUIET).items()}
    per_seed = {f"seed0/{t}{s}" for t in TABLES for s in (".csv", ".md", ".tex", "_n.csv", "_clean_same_images.csv",
                                                          "_ci.csv", "_ci.tex")}
    per_seed |= {f"seed0/comparison_table{k}.{e}" for k in (1, 2) for e in ("csv", "md")}
    assert first == second and set(first) == per_seed | {f"{t}_mean_sd.{e}" for t in TABLES for e in ("csv", "md")}
    assert not list((results / "tables").rglob("*.tmp"))


def test_filters_and_a_contradictory_setting(results):
    lines: list[str] = []
    wrong = record_of(results, "attack", "black-box-irv2-max-fgsm")
    wrong.update(source="irv2", created="2999-01-01T00:00:00+0000")  # says black-box, was white-box
    write_document(results / "records" / "attack" / "contradictory.json", wrong)
    render_all(results, **{**QUIET, "log": lines.append})
    assert any("contradictory.json: setting black-box but crafted on irv2" in line for line in lines)
    black = record_of(results, "attack", "black-box-irv2-max-fgsm")
    g1 = get_attack_spec("fgsm").paper_id
    assert rows_of(results / "tables" / "seed0" / "table2_blackbox.csv")[0][g1] == f"{black['accuracy']:.4f}"
    shutil.rmtree(results / "tables")
    written = render_all(results, train="paper", **{**QUIET, "log": lines.append})
    assert sorted(written) == sorted(f"{t}_mean_sd.{e}" for t in TABLES for e in ("csv", "md"))  # no seed selected
    assert rows_of(results / "tables" / "table1_whitebox_mean_sd.csv")[0]["clean_mean"] == ""
    assert any("left out by the filters" in line for line in lines)


def test_report_script_renders_the_tables(results, capsys):
    spec = importlib.util.spec_from_file_location("report", ROOT / "scripts" / "report.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--results", str(results), "--resamples", "100", "--data", "blobs", "--tables-only"]) == 0
    assert (results / "tables" / "seed0" / "table2_blackbox.tex").stat().st_size > 0
    # 22 of Tables 1-2, 17 of the transfer matrices (two attacks: accuracy and AUC in 3 formats, a heat map
    # in 2, per attack; and the long CSV), 3 of the clean baseline (one table in 3 formats)
    assert re.search(r"tables: 42 files in .* \(seed0\)", capsys.readouterr().out)
    assert len(list((results / "tables" / "transfer").glob("*-accuracy.csv"))) == 2
    capsys.readouterr()
    assert script.main(["--results", str(results), "--data", "phantom", "--tables-only"]) == 2  # filtered out
    assert "nothing to render: no records with data phantom" in capsys.readouterr().err
    first = rows_of(results / "tables" / "table1_whitebox_mean_sd.csv")[0]
    assert first["clean_mean"] != "" and first["clean_seeds"] == "1"  # the full tables are kept
    edit_record(results, "clean", "irv2-max", schema=1)
    assert script.main(["--results", str(results)]) == 2                          # one error line, no traceback
    assert "irv2-max.json has record schema 1" in capsys.readouterr().err
