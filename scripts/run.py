"""Main entry: train (or reuse) the models of grid.models, attack, evaluate white-box and black-box.

    python scripts/run.py attack=pgd model=nasnet pooling=avg
    python scripts/run.py model=irv2 pooling=max        # no attack: clean accuracy and AUC only
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from cxrbench.cli import preflight
from cxrbench.config import peer_config, validate
from cxrbench.errors import CxrBenchError
from cxrbench.pipeline import run_clean

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        run = validate(cfg)
        if run.attack is None:
            run_clean(run, ROOT)
            return
        from cxrbench.attack_pipeline import format_summary, run_attack

        # The black-box partners: the other models of the grid (by default the paper's pair).
        peers = [peer_config(cfg, m, CONFIGS) for m in run.grid.models if m != run.model.name]
        records = run_attack(run, peers, ROOT)
        print(format_summary(records))
        print(f"records: {Path(records[0]['path']).parent}")
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
