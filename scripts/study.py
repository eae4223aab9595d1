"""What makes an attack succeed (Kovalev & Voynov 2019): one study per experiment config.

    python scripts/study.py experiment=study_budget        # success vs eps and vs iterations; minimal-eps curves
    python scripts/study.py experiment=study_confidence    # success per bin of the clean confidence
    python scripts/study.py experiment=study_train_size    # retrained on nested training subsets
    python scripts/study.py experiment=study_resolution    # IRv2 at 80 / 128 / 192 px, G2 PGD, S1, S2

Trains or reuses every variant, runs each cell once (an interrupted study resumes at its first
missing cell), writes one record per cell and renders results/tables/studies/<study>/ and
results/figures/study_<study>_*.

An alias of ``python scripts/run.py experiment=<name>`` (same overrides, same code path), kept
for one release.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.app.aliases import protocol_alias

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    return protocol_alias(argv, old="scripts/study.py", protocol="studies", doc=__doc__, config_dir=ROOT / "configs",
                          root=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
