"""Crafting store: per-sample records, resume after interruption, white- and black-box evaluation."""
import numpy as np
import pandas as pd
import pytest
import torch

from tiny_models import blob_images, trained_tiny_cnn

from cxrbench.attacks import create_attack
from cxrbench.data.cache import build_cache, to_uint8
from cxrbench.data.datasets import CachedImageDataset
from cxrbench.evaluation.adversarial import craft, evaluate_on, load_adversarials, load_table, summarize
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


def test_white_and_black_box_summaries(models, dataset, tmp_path):
    source, other = models
    directory = tmp_path / "craft"
    crafted = craft(create_attack("pgd", iterations=10, binary_search_steps=6), source, dataset, directory,
                    chunk_size=5, progress=False)
    white = summarize(crafted, evaluate_on(source, dataset, directory, "source"))
    black = summarize(crafted, evaluate_on(other, dataset, directory, "other"))
    assert white["success_rate"] == pytest.approx(crafted["success"].sum() / crafted["attacked"].sum())
    assert white["accuracy"] <= white["clean_accuracy"] and white["success_rate"] > 0.5
    assert 0.0 <= black["success_rate"] <= 1.0 and black["clean_accuracy"] > 0.5
    assert white["median_linf"] == pytest.approx(float(np.median(crafted.loc[crafted["success"], "linf"])))
    assert (directory / "eval-source.parquet").exists() and (directory / "eval-other.parquet").exists()


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
