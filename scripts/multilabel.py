"""Multi-label robustness (Ghamizi et al. 2022): k-robust accuracy, eps x steps grids, transfer, risk-targeted PGD.

    python scripts/multilabel.py experiment=multilabel_quick
    python scripts/multilabel.py experiment=multilabel_quick multilabel.images=64 multilabel.models=[irv2,xrv_densenet121]

Trains or reuses every model of multilabel.models with task=multilabel (x grid.poolings), evaluates it
clean (per-label thresholds from the validation split), runs untargeted PGD at every eps (every step
budget of the grid read off one run), tests the transfer budget's adversarials on every other model,
runs risk-targeted PGD with each risk loss, writes one record per cell (resumable) and renders
results/tables/multilabel/ and results/figures/multilabel/.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.cli import script_main
from cxrbench.multilabel.run import format_report, run_multilabel

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def main(argv: list[str]) -> int:
    return script_main(argv, __doc__, lambda args: format_report(run_multilabel(args, CONFIGS, ROOT)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
