"""Result records: one typed JSON document per evaluated cell, written atomically."""
from __future__ import annotations

from pathlib import Path

from cxrbench.io import atomic_write_json
from cxrbench.reporting.schema import RecordBase, to_document


def write_record(path: Path, record: RecordBase, root: Path) -> dict:
    """Write ``record`` (schema, time stamp and provenance added) to ``path``; return the document.

    The returned document also holds ``"path"``, where it was written (not stored in the file).
    """
    document = to_document(record, root)
    atomic_write_json(path, document)
    return {**document, "path": str(path)}

