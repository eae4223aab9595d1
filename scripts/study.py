"""What makes an attack succeed (Kovalev & Voynov 2019): one study per experiment config.

    python scripts/study.py experiment=study_budget        # success vs eps and vs iterations; minimal-eps curves
    python scripts/study.py experiment=study_confidence    # success per bin of the clean confidence
    python scripts/study.py experiment=study_train_size    # retrained on nested training subsets
    python scripts/study.py experiment=study_resolution    # IRv2 at 80 / 128 / 192 px, G2 PGD, S1, S2

Trains or reuses every variant, runs each cell once (an interrupted study resumes at its first
missing cell), writes one record per cell and renders results/tables/studies/<study>/ and
results/figures/study_<study>_*.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.cli import script_main
from cxrbench.studies.run import format_report, run_study

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def main(argv: list[str]) -> int:
    return script_main(argv, __doc__, lambda args: format_report(run_study(args, CONFIGS, ROOT)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
