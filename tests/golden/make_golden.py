"""Regenerate the miniature record store and the expected render of ``tests/test_render_golden.py``.

    python tests/golden/make_golden.py          # about 3 minutes on 2 CPU cores

Runs every protocol on tiny settings (phantom data, 2 training steps, a few images) into a scratch
folder, keeps what a render reads (records, per-image predictions, crafted sets, split CSVs) under
``tests/golden/store/`` and renders every table and figure into ``tests/golden/expected/``. Run it
only when an output is meant to change; the test then pins the new render.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))

from conftest import CONFIGS, TINY  # noqa: E402
from golden_render import KEPT, render_everything  # noqa: E402

from cxrbench.protocols.multilabel.run import run_multilabel  # noqa: E402
from cxrbench.protocols.paper.experiment import reproduce  # noqa: E402
from cxrbench.protocols.robust.run import run_robust  # noqa: E402
from cxrbench.protocols.studies.run import run_study  # noqa: E402

QUIET = {"log": lambda *_: None}


def run_protocols(tmp: Path) -> Path:
    """Every protocol on tiny settings into ``tmp/results``; returns that folder."""
    base = TINY + [f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}"]
    reproduce(base + ["experiment=quick", "seeds=[0,1]", "train.input_size=75", "grid.attacks=[fgsm,deepfool]",
                      "grid.poolings=[max]", "++attack.quick.images=6", "++attack.quick.steps=20"],
              CONFIGS, ROOT, **QUIET)
    run_robust(base + ["experiment=robust_quick", "train.input_size=75", "grid.poolings=[max]",
                       "robust.variants={quick:[irv2]}", "robust.epsilons=[1,4]", "robust.iterations=2",
                       "robust.images=6"], CONFIGS, ROOT, **QUIET)
    run_multilabel(base + ["experiment=multilabel_quick", "train.input_size=32", "data.n_train=40", "data.n_val=30",
                           "data.n_test=12", "data.test_positives=8", "multilabel.models=[nasnet,xrv_densenet121]",
                           "multilabel.epsilons=[1,8]", "multilabel.steps=[1,2]",
                           "multilabel.transfer={epsilon:1,steps:2}", "multilabel.risk={epsilon:8,steps:2}",
                           "multilabel.risk_losses=[bce]", "multilabel.images=6"], CONFIGS, ROOT, **QUIET)
    run_study(base + ["experiment=study_budget", "train.input_size=75", "grid.poolings=[max]",
                      "study.variants={quick:[irv2]}", "study.images=6", "study.epsilons=[1,8]",
                      "study.epsilons_unit=[0.05]"], CONFIGS, ROOT, **QUIET)
    return tmp / "results"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        results = run_protocols(Path(scratch))
        store = HERE / "store"
        shutil.rmtree(store, ignore_errors=True)
        for name in KEPT:
            if (results / name).exists():
                shutil.copytree(results / name, store / name)
    expected = HERE / "expected"
    shutil.rmtree(expected, ignore_errors=True)
    render_everything(store, expected)
    print(f"store: {sum(1 for p in store.rglob('*') if p.is_file())} files; "
          f"expected: {sum(1 for p in expected.rglob('*') if p.is_file())} files")


if __name__ == "__main__":
    main()
