"""The clean run of one model (``scripts/run.py`` without an attack): train or reuse it, evaluate it, record it.

Each task's clean evaluation writes its own kind of record: the binary task a ``clean`` record
(accuracy, ROC-AUC), the multi-label task a ``multilabel`` one (k-robust accuracies, per-label
thresholds chosen on the validation split).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cxrbench.kit.config import RunConfig
from cxrbench.kit.multilabel_clean import evaluate_clean_multilabel
from cxrbench.kit.pipeline import evaluate_clean, prepare_variant, resolve_paths
from cxrbench.runtime import resolve_runtime, seed_everything

#: The clean evaluation of each registered task (``task=<name>``).
CLEAN_EVALUATIONS: dict[str, Callable[..., dict]] = {"binary": evaluate_clean, "multilabel": evaluate_clean_multilabel}


def run_clean(cfg: RunConfig, default_root: Path, log=print) -> dict:
    """Train (or reuse) the configured variant and evaluate it on the clean test split.

    Returns the record written under ``results/records/clean/``.
    """
    wall = time.perf_counter()
    paths = resolve_paths(cfg, default_root)
    paths.check_writable()
    seed_everything(cfg.seed, cfg.deterministic)
    runtime = resolve_runtime(cfg.device)
    variant = prepare_variant(cfg, paths, runtime, log)
    record = CLEAN_EVALUATIONS[cfg.task.name](cfg, variant, paths, runtime, wall=wall, log=log)
    log(f"record: {record['path']}")
    return record
