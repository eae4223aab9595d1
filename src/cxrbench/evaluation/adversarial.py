"""Craft adversarials once per (source model, attack), store them, evaluate them on any target.

The set's files and the proof that a finished set is whole live in
:mod:`cxrbench.evaluation.crafted_set`. Images are stored in the experiment's one image space
(``TrainConfig.canonical_size``); every model resizes them to its own input inside its wrapper.
Evaluating on a target model (the source itself: white-box; another architecture: black-box) adds
``eval-<target>.parquet``. A target's clean prediction of an image is the one of its clean pass,
and an image the attack left unchanged is that clean image, so a cell where nothing was fooled
equals the clean figure of its images exactly.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import foolbox as fb
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from cxrbench.attacks import image_key
from cxrbench.attacks.base import CountingAttack
from cxrbench.data.datasets import CachedImageDataset
from cxrbench.errors import DataError
from cxrbench.evaluation.crafted_set import (chunk_is_whole, chunk_rows, crafted_by, eval_path, keep_chunking,
                                             load_adversarials, load_table, part_paths, read_evaluation, read_manifest,
                                             seal, write_evaluation)
from cxrbench.evaluation.metrics import binary_metrics, predicted
from cxrbench.evaluation.perturbation import perturbation_measures
from cxrbench.evaluation.predict import probabilities
from cxrbench.io import atomic_write

__all__ = ["craft", "crafted_by", "eval_path", "evaluate_on", "load_adversarials", "load_table", "summarize"]


def craft(attack: CountingAttack, model: torch.nn.Module, dataset: CachedImageDataset, directory: Path, *,
          device: torch.device | str = "cpu", chunk_size: int = 25, progress: bool = True,
          provenance: dict | None = None) -> pd.DataFrame:
    """Run ``attack`` on every image of ``dataset`` against ``model``; return the per-sample table.

    Finished chunks found in ``directory`` are not redone. Every random draw of the attack is
    keyed by the image id (:func:`cxrbench.attacks.image_key`), so the result does not depend on
    ``chunk_size`` or on where an image sits in the test set. ``provenance`` (who crafted the set)
    is kept in ``done.json``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # A resume or a repair keeps the chunks the set was started with, whatever chunk_size says now.
    chunk_size = keep_chunking(directory, chunk_size)
    model = model.eval()
    fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0), device=device)
    n = len(dataset)
    chunks = chunk_rows(n, chunk_size)
    bar = tqdm(total=n, desc=f"attack {type(attack).__name__}", disable=not progress, dynamic_ncols=True)
    for k, rows in enumerate(chunks):
        part, images = part_paths(directory, k)
        if chunk_is_whole(directory, k, len(rows)):
            bar.update(len(rows))
            continue
        x, y = dataset.batch(rows)
        x, y = x.to(device), y.to(device)
        ids = [dataset.ids[r] for r in rows]
        clean_prob = probabilities(model, x)
        tic = time.perf_counter()
        adversarial, _, _ = attack(fmodel, x, y, epsilons=None, keys=np.array([image_key(i) for i in ids]))
        seconds = time.perf_counter() - tic
        stats = attack.stats
        adv_prob = probabilities(model, adversarial)
        measures = {k_: v.cpu().numpy() for k_, v in perturbation_measures(x, adversarial).items()}
        table = pd.DataFrame({
            "image_id": ids, "label": y.cpu().numpy(), "clean_prob": clean_prob, "clean_pred": predicted(clean_prob),
            "attacked": stats.attacked, "success": stats.attacked & ~np.isnan(stats.found),
            "found": stats.found, "lower": stats.lower, "queries": stats.queries, "gradients": stats.gradients,
            "adv_prob": adv_prob, "adv_pred": predicted(adv_prob),
            **measures, "seconds": np.full(len(rows), seconds / len(rows)),
        })
        _write_npz(images, adversarial=adversarial.float().cpu().numpy(), clean=x.float().cpu().numpy(), rows=rows)
        _write_parquet(part, table)  # last: its presence marks the chunk finished
        bar.update(len(rows))
    bar.close()
    table = load_table(directory, len(chunks))
    if len(table) != n or table["image_id"].tolist() != list(dataset.ids):
        raise DataError(f"{directory} holds {len(table)} crafted images, not the {n} of this run; delete the "
                        "folder and rerun")
    seal(directory, n, chunk_size, repr(attack), provenance or {})
    return table


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: numpy would append ".npz" to a path
            np.savez_compressed(f, **arrays)

    atomic_write(path, write)


def _write_parquet(path: Path, table: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))


def evaluate_on(target: torch.nn.Module, directory: Path, name: str, clean: pd.DataFrame, *,
                device: torch.device | str = "cpu", batch_size: int = 64) -> pd.DataFrame:
    """Clean and adversarial predictions of ``target`` on the stored adversarials of ``directory``.

    Args:
        target: the model under test (any architecture: it resizes the stored images itself).
        directory: a finished crafting directory.
        name: the target's name in the evaluation file (``<variant>-<key>``).
        clean: the target's clean per-sample predictions (``image_id``, ``label``, ``prob``) from its
            clean pass over the same image space; it must hold every crafted image id.
        device: where to run the target.
        batch_size: images per forward.

    An adversarial equal to its clean image is that clean image: it keeps the clean prediction.
    """
    path = eval_path(directory, name)
    set_digest = read_manifest(directory).get("digest", "")
    ids = load_table(directory)["image_id"].tolist()
    stored = read_evaluation(path, set_digest, ids)
    if stored is not None:
        return stored
    known = clean.set_index("image_id")
    missing = [i for i in ids if i not in known.index]
    if missing:
        raise DataError(f"{directory} holds adversarials of test images the target was not evaluated on "
                        f"(first: {missing[0]}); craft and evaluate on the same split and image space")
    clean_prob = known.loc[ids, "prob"].to_numpy(dtype=np.float64)
    adversarial = torch.from_numpy(load_adversarials(directory))
    original = torch.from_numpy(load_adversarials(directory, "clean"))
    if len(adversarial) != len(ids) or len(original) != len(ids):
        raise DataError(f"{directory} holds {len(adversarial)} adversarial images for {len(ids)} crafted rows; "
                        "rerun the attack: it recrafts damaged chunks")
    changed = np.flatnonzero((adversarial != original).flatten(1).any(1).numpy())
    adv_prob = clean_prob.copy()
    target = target.eval()
    for start in range(0, len(changed), batch_size):
        rows = changed[start:start + batch_size]
        adv_prob[rows] = probabilities(target, adversarial[rows].to(device))
    table = pd.DataFrame({"image_id": ids, "label": known.loc[ids, "label"].to_numpy(dtype=int),
                          "clean_prob": clean_prob, "clean_pred": predicted(clean_prob), "adv_prob": adv_prob,
                          "adv_pred": predicted(adv_prob)})
    write_evaluation(path, table, set_digest)
    return table


def summarize(crafted: pd.DataFrame, evaluated: pd.DataFrame) -> dict:
    """The paper's two numbers on the adversarial test set, plus success rate and sizes.

    ``accuracy`` and ``auc`` are over all attacked test images (unattacked and unfooled ones keep
    their clean image), ``clean_accuracy`` and ``clean_auc`` over the same images clean;
    ``success_rate`` is over the images the target classifies correctly when clean.
    """
    labels = evaluated["label"].to_numpy()
    metrics = binary_metrics(labels, evaluated["adv_prob"].to_numpy())
    clean = binary_metrics(labels, evaluated["clean_prob"].to_numpy())
    correct = evaluated["clean_pred"] == evaluated["label"]
    fooled = correct & (evaluated["adv_pred"] != evaluated["label"])
    succeeded = crafted[crafted["success"]]
    out = {"accuracy": metrics["accuracy"], "auc": metrics["auc"], "n": metrics["n"],
           "n_positive": metrics["n_positive"], "clean_accuracy": clean["accuracy"], "clean_auc": clean["auc"],
           "success_rate": float(fooled.sum() / correct.sum()) if correct.sum() else float("nan"),
           "crafting_success_rate": float(crafted["success"].sum() / max(crafted["attacked"].sum(), 1)),
           "mean_queries": float(crafted.loc[crafted["attacked"], "queries"].mean()),
           "mean_gradients": float(crafted.loc[crafted["attacked"], "gradients"].mean())}
    for column in ("found", "l0", "l2", "linf", "mse", "ssim", "psnr"):
        values = succeeded[column].to_numpy(dtype=float)
        out[f"median_{column}"] = float(np.median(values)) if len(values) else float("nan")
        out[f"mean_{column}"] = float(np.mean(values)) if len(values) else float("nan")
    return json.loads(json.dumps(out))  # plain floats for the JSON record
