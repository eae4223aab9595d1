"""Main entry: train (or reuse) a model variant and evaluate it.

    python scripts/run.py attack=pgd model=nasnet pooling=avg
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from cxrbench.cli import preflight
from cxrbench.config import validate
from cxrbench.errors import CxrBenchError
from cxrbench.pipeline import run_clean

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        run = validate(cfg)
        if run.attack is not None:
            print(f"note: attack={run.attack} requested, but the attack registry has not landed yet; "
                  "this run reports clean accuracy and AUC only")
        run_clean(run, ROOT)
    except CxrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    try:
        preflight(sys.argv[1:], CONFIGS)
    except CxrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    main()
