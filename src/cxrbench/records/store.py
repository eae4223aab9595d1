"""Result records: one typed JSON document per evaluated cell, written atomically, read back checked."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from cxrbench.errors import ConfigError, DataError
from cxrbench.io import atomic_write_json, read_json
from cxrbench.records.schema import RecordBase, check_record, to_document


def write_record(path: Path, record: RecordBase, root: Path) -> dict:
    """Write ``record`` (schema, time stamp and provenance added) to ``path``; return the document.

    The returned document also holds ``"path"``, where it was written (not stored in the file).
    """
    document = to_document(record, root)
    atomic_write_json(path, document)
    return {**document, "path": str(path)}


def created_at(record: dict) -> datetime:
    try:
        return datetime.strptime(record.get("created", ""), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:  # an unparsable stamp sorts first, so any dated record wins over it
        return datetime.min.replace(tzinfo=timezone.utc)


def load_records(records_dir: Path, kinds: tuple[str, ...]) -> list[dict]:
    """Every record of ``kinds`` under ``records_dir``, all schema-checked; one error listing all bad files."""
    records, bad = [], []
    for path in sorted(records_dir.rglob("*.json")):
        try:
            record = check_record(read_json(path, "record"), str(path))
        except DataError as exc:
            bad.append(str(exc))
            continue
        if not isinstance(record.get("seed"), int) or isinstance(record.get("seed"), bool):
            bad.append(f"{path} has seed {record.get('seed')!r}, not an integer; rerun the run that wrote it")
            continue
        record["_file"] = path.relative_to(records_dir).as_posix()  # unique, stable tie-break
        if record["kind"] in kinds:
            records.append(record)
    if bad:  # all of them at once: fixing one file at a time through reruns would be tedious
        more = f" (and {len(bad) - 1} more: {'; '.join(bad[1:])})" if len(bad) > 1 else ""
        raise DataError(bad[0] + more)
    return records


def cell_key(record: dict, fields: tuple[str, ...]) -> tuple:
    """The values of ``fields`` in ``record``; ``digest`` names the digest of its image set."""
    return tuple(record["image_set"]["digest"] if name == "digest" else record[name] for name in fields)


def newest_per_cell(records: list[dict], fields: tuple[str, ...], *, data: str | None, what: str) -> dict[tuple, dict]:
    """The newest record of every cell (records equal in ``fields``) of one data source, by cell key.

    Args:
        records: loaded records (:func:`load_records`).
        fields: what one cell is (see :func:`cell_key`): records equal in them measure the same thing,
            and a rerun replaces the older record.
        data: the data source to keep (``phantom`` / ``nih``); None: the only one there is.
        what: the records' name in the error when they mix data sources.
    """
    sources = sorted({r["data"]["source"] for r in records})
    if data is None and len(sources) > 1:
        raise ConfigError(f"the {what} records hold data sources {sources}; choose one with --data")
    return newest([r for r in records if data is None or r["data"]["source"] == data], fields)


def newest(records: list[dict], fields: tuple[str, ...]) -> dict[tuple, dict]:
    """The newest record of every cell (records equal in ``fields``, :func:`cell_key`), whatever their data."""
    chosen: dict[tuple, dict] = {}
    for r in records:
        key = cell_key(r, fields)
        if key not in chosen or (created_at(r), r["_file"]) > (created_at(chosen[key]), chosen[key]["_file"]):
            chosen[key] = r
    return chosen


def finished_record(record_path: Path, table_path: Path) -> dict | None:
    """A cell's record, marked ``reused``, when both it and its per-image table exist (else None: redo it)."""
    if record_path.exists() and table_path.exists():
        return {**read_json(record_path, "record"), "path": str(record_path), "reused": True}
    return None
