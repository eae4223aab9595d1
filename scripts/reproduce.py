"""Regenerate an experiment end to end: train, attack, tabulate, plot.

    python scripts/reproduce.py experiment=quick
    python scripts/reproduce.py experiment=paper data.root=/path/to/ChestX-ray14

Takes the same overrides as ``scripts/run.py``; the experiment's ``grid`` says which attacks and
poolings to run. Finished work (checkpoints, crafted sets, evaluations) is reused.

An alias of ``python scripts/run.py experiment=<name>`` (same overrides, same code path), kept
for one release.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.app.aliases import protocol_alias

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    return protocol_alias(argv, old="scripts/reproduce.py", protocol="paper", doc=__doc__, config_dir=ROOT / "configs",
                          root=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
