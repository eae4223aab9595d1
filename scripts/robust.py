"""Accuracy under fixed-budget L-inf attacks (G2 PGD, APGD-CE) over an eps ladder, standard vs adversarially trained.

    python scripts/robust.py experiment=robust_quick
    python scripts/robust.py experiment=robust_quick robust.epsilons=[1,2] robust.images=50

Walks robust.variants (training recipe -> models) x grid.poolings, trains or reuses each model,
attacks it at every eps of robust.epsilons with robust.iterations steps, writes one record per
cell (resumable) and renders results/tables/robust/ and results/figures/robust_accuracy.*.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.cli import script_main
from cxrbench.robustness import format_report, run_robust

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def main(argv: list[str]) -> int:
    return script_main(argv, __doc__, lambda args: format_report(run_robust(args, CONFIGS, ROOT)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
