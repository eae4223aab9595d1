"""Pick the one record per table cell that a report shows, from everything under ``results/records``.

Several records can describe the same cell (reruns, other seeds, other data or training recipe).
Filters narrow them by seed, data source and training recipe; a filter left out takes the single
value the records hold, and is an error when they hold several, so that a report never silently
mixes, say, phantom and ChestX-ray14 numbers. What remains per cell is resolved to the newest
``created`` record, and every such choice is logged.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from cxrbench.errors import ConfigError, DataError

#: Filter name -> how to read it from a record, and the option that sets it in the scripts.
_FACETS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "seed": (lambda r: r.get("seed"), "--seed"),
    "data": (lambda r: (r.get("data") or {}).get("source"), "--data"),
    "train": (lambda r: ((r.get("config") or {}).get("train") or {}).get("name"), "--train"),
}

CleanKey = tuple[str, str]               # (model, pooling)
AttackKey = tuple[str, str, str, str]    # (setting, model, pooling, attack)


@dataclass
class Selection:
    """The chosen records of one results directory.

    Attributes:
        results_dir: the directory that relative paths in records (``per_sample``, ``crafted``) start from.
        filters: the resolved filter values (seed, data, train).
        clean: clean records by (model, pooling).
        attack: attack records by (setting, target model, pooling, attack name).
        notes: what was chosen among duplicates and what was dropped, one line each.
    """

    results_dir: Path
    filters: dict[str, Any]
    clean: dict[CleanKey, dict] = field(default_factory=dict)
    attack: dict[AttackKey, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def path(self, relative: str) -> Path:
        """A path stored in a record, resolved against the results directory."""
        return self.results_dir / relative

    def describe(self) -> str:
        """The filters as one human-readable phrase (no timestamps: it lands in tables)."""
        chosen = [f"{k} {v}" for k, v in self.filters.items() if v is not None]
        return ", ".join(chosen) if chosen else "no records"


def _created(record: dict) -> datetime:
    try:
        return datetime.strptime(record.get("created", ""), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:  # an unparsable stamp sorts first, so any dated record wins over it
        return datetime.min.replace(tzinfo=timezone.utc)


def _load(records_dir: Path) -> list[dict]:
    records = []
    for path in sorted(records_dir.rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"unreadable record {path} ({exc}); delete it or rerun the run that wrote it") from None
        if record.get("kind") in ("clean", "attack"):
            record["_file"] = path.relative_to(records_dir).as_posix()  # unique, stable tie-break
            records.append(record)
    return records


def _resolve(records: list[dict], requested: dict[str, Any]) -> dict[str, Any]:
    resolved = {}
    for name, (read, option) in _FACETS.items():
        if requested.get(name) is not None:
            resolved[name] = requested[name]
            continue
        values = sorted({read(r) for r in records if read(r) is not None}, key=str)
        if len(values) > 1:
            raise ConfigError(f"the records hold several values of {name} ({', '.join(map(str, values))}); "
                              f"choose one with {option}")
        resolved[name] = values[0] if values else None
    return resolved


def _newest(key: str, candidates: list[dict], notes: list[str]) -> dict:
    ordered = sorted(candidates, key=lambda r: (_created(r), r["_file"]))
    chosen = ordered[-1]
    if len(ordered) > 1:
        notes.append(f"{key}: {len(ordered)} records match; using the newest ({chosen.get('created')}, "
                     f"{chosen['_file']})")
    return chosen


def select_records(results_dir: Path, *, seed: int | None = None, data: str | None = None,
                   train: str | None = None, log: Callable[[str], None] = print) -> Selection:
    """Read the records under ``results_dir/records`` and keep one per cell.

    Args:
        results_dir: the results directory (``records/`` below it; paths in records are relative to it).
        seed: keep records of this run seed.
        data: keep records of this data source (``phantom``, ``nih``).
        train: keep records of this training recipe (``quick``, ``paper``).
        log: receives one line per choice made among duplicates.

    Returns:
        The selection; empty (not an error) when there are no records, so reports show empty cells.

    Raises:
        ConfigError: a filter was left out and the records hold several values of it.
    """
    results_dir = Path(results_dir)
    records = _load(results_dir / "records")
    filters = _resolve(records, {"seed": seed, "data": data, "train": train})
    kept = [r for r in records
            if all(value is None or _FACETS[name][0](r) == value for name, value in filters.items())]
    selection = Selection(results_dir, filters)
    groups: dict[tuple, list[dict]] = {}
    for r in kept:
        if r["kind"] == "clean":
            key: tuple = ("clean", r["model"]["model"], r["model"]["pooling"])
        elif (r.get("source") == r["model"]) != (r["setting"] == "white-box"):
            selection.notes.append(f"{r['_file']}: setting {r['setting']} but crafted on {r.get('source')} "
                                   f"and tested on {r['model']}; left out")
            continue
        else:
            key = ("attack", r["setting"], r["model"], r["pooling"], r["attack"])
        groups.setdefault(key, []).append(r)
    for key, candidates in sorted(groups.items()):
        chosen = _newest(" ".join(key), candidates, selection.notes)
        if key[0] == "clean":
            selection.clean[key[1:]] = chosen
        else:
            selection.attack[key[1:]] = chosen
    dropped = len(records) - len(kept)
    if dropped:
        selection.notes.append(f"{dropped} of {len(records)} records left out by the filters ({selection.describe()})")
    for line in selection.notes:
        log(f"records: {line}")
    return selection
