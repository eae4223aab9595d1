"""Multi-label robustness (Ghamizi et al. 2022): k-robust accuracy, eps x steps grids, transfer, risk-targeted PGD.

    python scripts/multilabel.py experiment=multilabel_quick
    python scripts/multilabel.py experiment=multilabel_quick multilabel.images=64 multilabel.models=[irv2,xrv_densenet121]

Trains or reuses every model of multilabel.models with task=multilabel (x grid.poolings), evaluates it
clean (per-label thresholds from the validation split), runs untargeted PGD at every eps (every step
budget of the grid read off one run), tests the transfer budget's adversarials on every other model,
runs risk-targeted PGD with each risk loss, writes one record per cell (resumable) and renders
results/tables/multilabel/ and results/figures/multilabel/.

An alias of ``python scripts/run.py experiment=<name>`` (same overrides, same code path), kept
for one release.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.app.aliases import protocol_alias

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    return protocol_alias(argv, old="scripts/multilabel.py", protocol="multilabel", doc=__doc__, config_dir=ROOT / "configs",
                          root=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
