"""Accuracy under fixed-budget L-inf attacks (G2 PGD, APGD-CE) over an eps ladder, standard vs adversarially trained.

    python scripts/robust.py experiment=robust_quick
    python scripts/robust.py experiment=robust_quick robust.epsilons=[1,2] robust.images=50

Walks robust.variants (training recipe -> models) x grid.poolings, trains or reuses each model,
attacks it at every eps of robust.epsilons with robust.iterations steps, writes one record per
cell (resumable) and renders results/tables/robust/ and results/figures/robust_accuracy.*.

An alias of ``python scripts/run.py experiment=<name>`` (same overrides, same code path), kept
for one release.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.app.aliases import protocol_alias

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    return protocol_alias(argv, old="scripts/robust.py", protocol="robust", doc=__doc__, config_dir=ROOT / "configs",
                          root=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
