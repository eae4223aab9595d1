"""Which test images a cell measures, and the digests that name them.

Every protocol attacks a seeded stratified prefix of the test split (nested across sizes, so a
cheap attack on many images and an expensive one on a few share the few) and names it by a digest
of exactly which images, so two records of one cell can be checked to have measured the same thing.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from cxrbench.data.datasets import SubsetView, stratified_rows
from cxrbench.errors import ConfigError
from cxrbench.kit.pipeline import Variant


def digest(blob: dict) -> str:
    """A 16-hex-digit SHA-256 of ``blob`` as sorted JSON: the key of a crafted set, a cell or a record file."""
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def test_subset(variant: Variant, images: int | None, seed: int, *, setting: str = "images") -> SubsetView:
    """The first ``images`` test images of the seed's stratified order (None: all of them).

    Raises:
        ConfigError: ``images`` exceeds the test split; the record would claim images that never ran.
    """
    test = variant.data.test
    if images is not None and images > len(test):
        raise ConfigError(f"{setting}={images} exceeds the {len(test)} test images of {variant.data.description['source']}; "
                          f"set {setting} to at most {len(test)} (or null: the whole test split)")
    return SubsetView(test, stratified_rows(test.targets, images, seed))


def image_set(view: SubsetView) -> dict:
    """How many images, how many with a finding, and a digest of exactly which ones."""
    return image_set_of(list(view.ids), view.targets)


def image_set_of(ids: list[str], targets) -> dict:
    """:func:`image_set` of images given by their ids and targets (plans have no cached view)."""
    return {"n": len(ids), "n_positive": int(np.sum(targets)),
            "digest": hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]}
