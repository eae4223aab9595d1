"""Craft adversarials once per (source model, attack), store them, evaluate them on any target.

A crafting directory holds the work in chunks so an interrupted run resumes::

    part-00000.npz       adversarial images of chunk 0 (float32, compressed)
    part-00000.parquet   per-sample record of chunk 0 (written after the images: marks it done)
    ...
    done.json            written last: the crafting is complete

Evaluating on a target model (the source itself: white-box; another architecture: black-box)
adds ``eval-<target>.parquet`` with the target's clean and adversarial predictions.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import foolbox as fb
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from cxrbench.attacks.base import CountingAttack
from cxrbench.data.datasets import CachedImageDataset
from cxrbench.evaluation.metrics import binary_metrics
from cxrbench.evaluation.perturbation import perturbation_measures
from cxrbench.reporting.io import atomic_write, atomic_write_json


def _probabilities(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.softmax(model(x).float(), 1)[:, 1]


def craft(attack: CountingAttack, model: torch.nn.Module, dataset: CachedImageDataset, directory: Path, *,
          device: torch.device | str = "cpu", chunk_size: int = 25, progress: bool = True) -> pd.DataFrame:
    """Run ``attack`` on every image of ``dataset`` against ``model``; return the per-sample table.

    Finished chunks found in ``directory`` are not redone.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0), device=device)
    n = len(dataset)
    starts = range(0, n, chunk_size)
    bar = tqdm(total=n, desc=f"attack {type(attack).__name__}", disable=not progress, dynamic_ncols=True)
    for k, start in enumerate(starts):
        part = directory / f"part-{k:05d}.parquet"
        rows = np.arange(start, min(start + chunk_size, n))
        if part.exists():
            bar.update(len(rows))
            continue
        x, y = dataset.batch(rows)
        x, y = x.to(device), y.to(device)
        clean_prob = _probabilities(model, x)
        tic = time.perf_counter()
        adversarial, _, _ = attack(fmodel, x, y, epsilons=None)
        seconds = time.perf_counter() - tic
        stats = attack.stats
        adv_prob = _probabilities(model, adversarial)
        measures = {k_: v.cpu().numpy() for k_, v in perturbation_measures(x, adversarial).items()}
        table = pd.DataFrame({
            "image_id": [dataset.ids[r] for r in rows], "label": y.cpu().numpy(),
            "clean_prob": clean_prob.cpu().numpy(), "clean_pred": (clean_prob > 0.5).long().cpu().numpy(),
            "attacked": stats.attacked, "success": stats.attacked & ~np.isnan(stats.found),
            "found": stats.found, "lower": stats.lower, "queries": stats.queries, "gradients": stats.gradients,
            "adv_prob": adv_prob.cpu().numpy(), "adv_pred": (adv_prob > 0.5).long().cpu().numpy(),
            **measures, "seconds": np.full(len(rows), seconds / len(rows)),
        })
        _write_npz(directory / f"part-{k:05d}.npz", adversarial=adversarial.float().cpu().numpy(),
                   clean=x.float().cpu().numpy(), rows=rows)
        _write_parquet(part, table)  # last: its presence marks the chunk finished
        bar.update(len(rows))
    bar.close()
    table = load_table(directory, len(starts))
    atomic_write_json(directory / "done.json", {"n": n, "chunks": len(starts), "attack": repr(attack)})
    return table


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: numpy would append ".npz" to a path
            np.savez_compressed(f, **arrays)

    atomic_write(path, write)


def _write_parquet(path: Path, table: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))


def load_table(directory: Path, chunks: int | None = None) -> pd.DataFrame:
    """The per-sample crafting table of ``directory``, in sample order."""
    parts = sorted(Path(directory).glob("part-*.parquet"))
    if chunks is not None and len(parts) != chunks:
        raise RuntimeError(f"{directory} has {len(parts)} of {chunks} chunks; rerun to finish crafting")
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def load_adversarials(directory: Path, which: str = "adversarial") -> np.ndarray:
    """All stored adversarial (or, with ``which="clean"``, clean) images of ``directory``, in sample order."""
    parts = sorted(Path(directory).glob("part-*.npz"))
    return np.concatenate([np.load(p)[which] for p in parts])


def eval_path(directory: Path, name: str) -> Path:
    """Where :func:`evaluate_on` keeps target ``name``'s predictions on the adversarials of ``directory``."""
    return Path(directory) / f"eval-{name}.parquet"


def evaluate_on(target: torch.nn.Module, dataset: CachedImageDataset, directory: Path, name: str, *,
                device: torch.device | str = "cpu", batch_size: int = 64) -> pd.DataFrame:
    """Clean and adversarial predictions of ``target`` on the stored adversarials of ``directory``.

    ``dataset`` is the target's view of the same test images (same ids, same order). Where the
    target takes another input size (``train=paper``: IRv2 299 px, NASNet 331 px), the
    adversarials are resized to it, as a transferred image would be.
    """
    path = eval_path(directory, name)
    if path.exists():
        return pd.read_parquet(path)
    crafted_ids = load_table(directory)["image_id"].tolist()
    if list(crafted_ids) != list(dataset.ids):
        raise ValueError(f"{directory} holds adversarials of other test images than the target's; "
                         "craft and evaluate on the same split and subset")
    target = target.eval()
    adversarial = torch.from_numpy(load_adversarials(directory))
    clean_prob, adv_prob = [], []
    for start in range(0, len(dataset), batch_size):
        rows = np.arange(start, min(start + batch_size, len(dataset)))
        x, _ = dataset.batch(rows)
        adv = adversarial[rows]
        if adv.shape[-2:] != x.shape[-2:]:
            adv = F.interpolate(adv, size=x.shape[-2:], mode="bilinear", antialias=True,
                                align_corners=False).clamp_(0.0, 1.0)
        clean_prob.append(_probabilities(target, x.to(device)).cpu())
        adv_prob.append(_probabilities(target, adv.to(device)).cpu())
    clean, adv = torch.cat(clean_prob).numpy(), torch.cat(adv_prob).numpy()
    table = pd.DataFrame({"image_id": list(dataset.ids), "label": dataset.targets, "clean_prob": clean,
                          "clean_pred": (clean > 0.5).astype(int), "adv_prob": adv,
                          "adv_pred": (adv > 0.5).astype(int)})
    _write_parquet(path, table)
    return table


def summarize(crafted: pd.DataFrame, evaluated: pd.DataFrame) -> dict:
    """The paper's two numbers on the adversarial test set, plus success rate and sizes.

    ``accuracy`` and ``auc`` are over all test images (unattacked and unfooled ones keep their
    clean image); ``success_rate`` is over the images the target classifies correctly when clean.
    """
    metrics = binary_metrics(evaluated["label"].to_numpy(), evaluated["adv_prob"].to_numpy())
    correct = evaluated["clean_pred"] == evaluated["label"]
    fooled = correct & (evaluated["adv_pred"] != evaluated["label"])
    succeeded = crafted[crafted["success"]]
    out = {"accuracy": metrics["accuracy"], "auc": metrics["auc"], "n": metrics["n"],
           "clean_accuracy": float(correct.mean()),
           "success_rate": float(fooled.sum() / correct.sum()) if correct.sum() else float("nan"),
           "crafting_success_rate": float(crafted["success"].sum() / max(crafted["attacked"].sum(), 1)),
           "mean_queries": float(crafted.loc[crafted["attacked"], "queries"].mean()),
           "mean_gradients": float(crafted.loc[crafted["attacked"], "gradients"].mean())}
    for column in ("found", "l0", "l2", "linf", "mse", "ssim", "psnr"):
        values = succeeded[column].to_numpy(dtype=float)
        out[f"median_{column}"] = float(np.median(values)) if len(values) else float("nan")
        out[f"mean_{column}"] = float(np.mean(values)) if len(values) else float("nan")
    return json.loads(json.dumps(out))  # plain floats for the JSON record
