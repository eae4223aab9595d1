"""The one entry: one run, or a whole protocol's experiment; Hydra multirun and launchers for all.

    python scripts/run.py attack=pgd model=nasnet pooling=avg   # one attack, white-box and black-box
    python scripts/run.py model=irv2 pooling=max                # no attack: clean accuracy and AUC only
    python scripts/run.py experiment=quick                      # a protocol (configs/experiment/)
    python scripts/run.py experiment=quick plan_only=true       # what it would train, craft and measure
    python scripts/run.py -m experiment=sweep                   # a multirun sweep
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from cxrbench.app.preflight import preflight
from cxrbench.app.run import hydra_job
from cxrbench.errors import CxrBenchError
from cxrbench.kit.config_store import register_schemas

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@hydra.main(version_base="1.3", config_path="../configs", config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_job(cfg, ROOT, CONFIGS)


if __name__ == "__main__":
    register_schemas()  # config.yaml and every option extend schemas Hydra finds only in its ConfigStore
    try:
        preflight(sys.argv[1:], CONFIGS)
    except CxrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    main()
