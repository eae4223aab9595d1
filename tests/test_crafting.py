"""Crafting store: per-sample records, resume after interruption, white- and black-box evaluation."""
import numpy as np
import pandas as pd
import pytest
import torch

from tiny_models import blob_images, trained_tiny_cnn

from cxrbench.attacks import create_attack
from cxrbench.data.cache import build_cache, to_uint8
from cxrbench.data.datasets import CachedImageDataset
from cxrbench.errors import DataError
from cxrbench.evaluation.adversarial import craft, evaluate_on, load_adversarials, load_table, summarize
from cxrbench.evaluation.metrics import binary_metrics, finding_probability, predicted
from cxrbench.evaluation.predict import probabilities
from cxrbench.evaluation.perturbation import perturbation_measures, ssim


@pytest.fixture(scope="module")
def models():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: threads only add overhead
    yield trained_tiny_cnn(seed=0), trained_tiny_cnn(seed=3)
    torch.set_num_threads(previous)


@pytest.fixture
def dataset(tmp_path):
    x, y = blob_images(10, seed=11)
    images = [to_uint8(img[0].numpy()) for img in x]
    cache = build_cache(tmp_path / "cache", {"source": "blobs"}, [f"img{i}" for i in range(10)], 16,
                        lambda row: images[row], progress=False)
    return CachedImageDataset(cache, y.numpy(), np.zeros((10, 14)))


def test_craft_writes_per_sample_records_and_adversarials(models, dataset, tmp_path):
    source, _ = models
    attack = create_attack("fgsm", steps=100)
    table = craft(attack, source, dataset, tmp_path / "craft", chunk_size=4, progress=False)
    assert len(table) == 10 and list(table["image_id"]) == dataset.ids
    for column in ("label", "clean_prob", "clean_pred", "attacked", "success", "found", "queries", "gradients",
                   "adv_prob", "adv_pred", "l0", "l2", "linf", "mse", "ssim", "psnr", "seconds"):
        assert column in table
    assert table["success"].sum() >= 3
    fooled = table[table["success"]]
    assert (fooled["adv_pred"] != fooled["label"]).all()
    kept = table[~table["success"]]
    assert (kept["l2"] == 0).all() and (kept["psnr"] == np.inf).all()
    adversarial = load_adversarials(tmp_path / "craft")
    assert adversarial.shape == (10, 1, 16, 16) and adversarial.dtype == np.float32
    assert (tmp_path / "craft" / "done.json").exists()
    assert not list((tmp_path / "craft").glob("*.tmp"))


def test_an_interrupted_craft_resumes_without_redoing_finished_chunks(models, dataset, tmp_path):
    source, _ = models
    directory = tmp_path / "craft"
    first = craft(create_attack("contrast_reduction", steps=50), source, dataset, directory, chunk_size=4,
                  progress=False)
    (directory / "part-00001.parquet").unlink()  # as if killed while crafting chunk 1
    (directory / "done.json").unlink()
    stamps = {p.name: p.stat().st_mtime_ns for p in directory.glob("part-*.parquet")}

    class Counting(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.images = inner, 0

        def forward(self, x):
            self.images += len(x)
            return self.inner(x)

    counted = Counting(source)
    again = craft(create_attack("contrast_reduction", steps=50), counted, dataset, directory, chunk_size=4,
                  progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in directory.glob("part-*.parquet")
            if p.name in stamps} == stamps
    assert 0 < counted.images
    pd.testing.assert_frame_equal(first.drop(columns="seconds"), again.drop(columns="seconds"))
    with pytest.raises(RuntimeError, match="rerun to finish"):
        (directory / "part-00002.parquet").unlink()
        load_table(directory, chunks=3)


def test_crafted_sets_do_not_depend_on_the_chunk_size(models, dataset, tmp_path):
    source, _ = models
    sets = {}
    for chunk in (3, 10):
        directory = tmp_path / f"chunk{chunk}"
        craft(create_attack("gaussian_noise", steps=30, seed=5), source, dataset, directory, chunk_size=chunk,
              progress=False)
        sets[chunk] = load_adversarials(directory)
    assert np.array_equal(sets[3], sets[10])
    noise = sets[3] - load_adversarials(tmp_path / "chunk3", "clean")
    changed = [i for i in range(len(noise)) if np.abs(noise[i]).max() > 0]
    assert len(changed) >= 2 and not np.array_equal(noise[changed[0]], noise[changed[1]])


def test_white_and_black_box_summaries(models, dataset, tmp_path):
    source, other = models
    directory = tmp_path / "craft"
    crafted = craft(create_attack("pgd", iterations=10, binary_search_steps=6), source, dataset, directory,
                    chunk_size=5, progress=False)
    white = summarize(crafted, evaluate_on(source, directory, "source", clean_table(source, dataset)))
    black = summarize(crafted, evaluate_on(other, directory, "other", clean_table(other, dataset)))
    assert white["success_rate"] == pytest.approx(crafted["success"].sum() / crafted["attacked"].sum())
    assert white["accuracy"] <= white["clean_accuracy"] and white["success_rate"] > 0.5
    assert 0.0 <= black["success_rate"] <= 1.0 and black["clean_accuracy"] > 0.5
    assert white["median_linf"] == pytest.approx(float(np.median(crafted.loc[crafted["success"], "linf"])))
    assert (directory / "eval-source.parquet").exists() and (directory / "eval-other.parquet").exists()


def clean_table(model, dataset) -> pd.DataFrame:
    """A model's clean pass over ``dataset``, as the pipeline stores it."""
    x, y = dataset.batch(np.arange(len(dataset)))
    return pd.DataFrame({"image_id": dataset.ids, "label": y.numpy(), "prob": probabilities(model, x)})


def test_a_cell_where_nothing_was_fooled_equals_the_clean_figure_exactly(models, dataset, tmp_path):
    source, other = models
    directory = tmp_path / "craft"
    # One grid point far below any decision change: every attacked image comes back unchanged.
    crafted = craft(create_attack("contrast_reduction", steps=1000), _Unfoolable(source), dataset, directory,
                    chunk_size=4, progress=False)
    assert not crafted["success"].any()
    for model, name in ((source, "source"), (other, "other")):
        clean = clean_table(model, dataset)
        evaluated = evaluate_on(model, directory, name, clean)
        summary = summarize(crafted, evaluated)
        expected = binary_metrics(clean["label"].to_numpy(), clean["prob"].to_numpy())
        assert (summary["accuracy"], summary["auc"]) == (expected["accuracy"], expected["auc"])
        assert (summary["clean_accuracy"], summary["clean_auc"]) == (expected["accuracy"], expected["auc"])
        assert evaluated["adv_prob"].tolist() == clean["prob"].tolist()


class _Unfoolable(torch.nn.Module):
    """A model whose decision no contrast reduction changes (its output ignores the input)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x).detach() * 0 + torch.tensor([[0.0, 1.0]])


def test_evaluation_refuses_adversarials_of_images_the_target_was_not_evaluated_on(models, dataset, tmp_path):
    source, _ = models
    directory = tmp_path / "craft"
    craft(create_attack("fgsm", steps=20), source, dataset, directory, chunk_size=5, progress=False)
    clean = clean_table(source, dataset).iloc[2:]
    with pytest.raises(DataError, match="not evaluated on"):
        evaluate_on(source, directory, "source", clean)


def test_one_decision_rule_for_records_attacks_and_bootstrap():
    logits = torch.tensor([[0.0, 0.0], [0.0, 1e-7], [1e-7, 0.0], [3.0, -2.0]])
    probs = finding_probability(logits)
    assert predicted(probs).tolist() == logits.argmax(1).tolist() == [0, 1, 0, 0]
    assert binary_metrics(np.array([0, 1, 0, 0]), probs)["accuracy"] == 1.0  # a tie (P = 0.5) is no finding


def test_perturbation_measures_on_known_images():
    clean = torch.full((2, 1, 16, 16), 0.5)
    adv = clean.clone()
    adv[1, 0, 3, 4] = 0.7
    m = perturbation_measures(clean, adv)
    assert m["l0"].tolist() == [0, 1] and m["linf"][1].item() == pytest.approx(0.2)
    assert m["mse"][1].item() == pytest.approx(0.04 / 256)
    assert m["psnr"][0].item() == float("inf") and m["psnr"][1].item() == pytest.approx(10 * np.log10(256 / 0.04))
    assert ssim(clean, clean)[0].item() == pytest.approx(1.0)
    noisy = (clean + 0.2 * torch.randn_like(clean)).clamp(0, 1)
    assert ssim(clean + 0.01 * torch.randn_like(clean), clean).mean() > ssim(noisy, clean).mean()
