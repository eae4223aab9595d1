"""Result records: one JSON document per evaluated setting, written atomically."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cxrbench.reporting.io import atomic_write_json
from cxrbench.reporting.manifest import manifest

RECORD_SCHEMA_VERSION = 1


def make_record(kind: str, *, config: dict, seed: int, split: dict, metrics: dict, root: Path,
                **fields: Any) -> dict:
    """Assemble a record: what was measured plus the provenance to reproduce it."""
    return {"schema": RECORD_SCHEMA_VERSION, "kind": kind, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seed": seed, "split": split, "metrics": metrics, "config": config, **fields, **manifest(root)}


def write_record(path: Path, record: dict) -> Path:
    return atomic_write_json(path, record)


def read_records(directory: Path, kind: str | None = None) -> list[dict]:
    """All records under ``directory`` (recursively), optionally of one ``kind``."""
    records = [json.loads(p.read_text()) for p in sorted(Path(directory).rglob("*.json"))]
    return [r for r in records if kind is None or r.get("kind") == kind]
