"""Render every table and figure of a record store into a folder (shared by the golden test and its maker)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from cxrbench.app.report import render
from cxrbench.protocols import RenderRequest

#: What a render reads from a results folder; checkpoints, caches, Hydra logs and outputs are left out.
KEPT = ("records", "predictions", "adversarial", "splits", "multilabel")
#: What a render writes.
OUTPUTS = ("tables", "figures")


def render_everything(store: Path, out: Path) -> None:
    """Copy ``store`` to a scratch folder, render every protocol's tables and figures there, move them to ``out``."""
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "results"
        shutil.copytree(store, results)
        render(results, RenderRequest(), log=lambda _: None)
        out.mkdir(parents=True, exist_ok=True)
        for name in OUTPUTS:
            shutil.copytree(results / name, out / name)
