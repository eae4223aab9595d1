"""The on-disk layout of a crafted set, and the proof that a finished one is whole.

A crafting directory holds the work in chunks so an interrupted run resumes::

    part-00000.npz       adversarial and clean images of chunk 0 (float32, compressed)
    part-00000.parquet   per-sample record of chunk 0 (written after the images: marks it done)
    ...
    eval-<target>.parquet  one target's predictions on the set (stamped with the set's digest)
    chunking.json        the chunk size, written first: a resume or a repair keeps the same chunks
    done.json            written last: the manifest of a finished set

The manifest lists every part with its row count and the SHA-256 of both of its files, and a
digest of them all. A finished set is read only after the files on disk match it: a deleted or
truncated part is found before any number is computed from it, and the caller recrafts just the
damaged chunks (every random draw is keyed by image id, so the recrafted chunk is the same).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cxrbench.errors import DataError
from cxrbench.io import atomic_write, atomic_write_json, file_sha256, read_json, read_table

MANIFEST = "done.json"
CHUNKING = "chunking.json"
FORMAT = 2  # 1: done.json without the part list (read after a structural check, then sealed anew)
_DIGEST_KEY = b"cxrbench.crafted_digest"


def part_paths(directory: Path, k: int) -> tuple[Path, Path]:
    """Chunk ``k``'s per-sample table and image archive."""
    stem = Path(directory) / f"part-{k:05d}"
    return stem.with_suffix(".parquet"), stem.with_suffix(".npz")


def chunk_rows(n: int, chunk_size: int) -> list[np.ndarray]:
    """The sample rows of each chunk of a set of ``n`` images."""
    return [np.arange(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]


def chunk_is_whole(directory: Path, k: int, rows: int) -> bool:
    """Whether chunk ``k`` has both files, readable, with ``rows`` samples each."""
    table, images = part_paths(directory, k)
    try:
        if pq.read_metadata(table).num_rows != rows:
            return False
        with np.load(images) as arrays:
            return all(arrays[name].shape[0] == rows for name in ("adversarial", "clean", "rows"))
    except Exception:  # noqa: BLE001  (missing, truncated or foreign: any failure means "not whole")
        return False


def stored_chunk_size(directory: Path) -> int | None:
    """The chunk size a set was (or is being) crafted with, so a resume or repair keeps its chunks."""
    chunking = Path(directory) / CHUNKING
    if chunking.exists():
        return int(read_json(chunking, "crafted-set chunking", "delete it and rerun")["chunk_size"])
    first, _ = part_paths(directory, 0)
    try:
        return pq.read_metadata(first).num_rows if first.exists() else None
    except Exception:  # noqa: BLE001  (a damaged first chunk is recrafted with the configured size)
        return None


def seal(directory: Path, n: int, chunk_size: int, attack: str, provenance: dict) -> dict:
    """Write the manifest of a finished set: every part, its rows and file digests, and their digest."""
    parts = []
    for k, rows in enumerate(chunk_rows(n, chunk_size)):
        table, images = part_paths(directory, k)
        parts.append({"index": k, "rows": len(rows), "parquet": file_sha256(table), "npz": file_sha256(images)})
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    manifest = {"format": FORMAT, "n": n, "chunks": len(parts), "attack": attack,
                "parts": parts, "digest": digest, "crafted_by": provenance}
    atomic_write_json(Path(directory) / MANIFEST, manifest)
    return manifest


def read_manifest(directory: Path) -> dict:
    """The manifest of a finished set (one error line if it is unreadable)."""
    return read_json(Path(directory) / MANIFEST, "crafted-set manifest",
                     "delete it and rerun: the set's finished chunks are kept and checked")


def damaged_chunks(directory: Path) -> dict[int, str]:
    """Chunks of a finished set that do not match its manifest: index -> what is wrong.

    A manifest without the part list (format 1) is checked structurally (both files of every
    chunk, readable, with the right row counts); it is sealed with digests once it passes.
    """
    manifest = read_manifest(directory)
    damaged: dict[int, str] = {}
    if "parts" not in manifest:
        # Judge (and later repair) it by the chunks it was made with, recorded as a new set's are.
        size = keep_chunking(directory, stored_chunk_size(directory) or manifest["n"])
        for k, rows in enumerate(chunk_rows(manifest["n"], size)):
            if not chunk_is_whole(directory, k, len(rows)):
                damaged[k] = "missing or unreadable"
        if not damaged:
            seal(directory, manifest["n"], size, manifest.get("attack", ""), manifest.get("crafted_by", {}))
        return damaged
    for part in manifest["parts"]:
        for suffix, path in zip(("parquet", "npz"), part_paths(directory, part["index"])):
            if not path.exists():
                damaged[part["index"]] = f"{path.name} missing"
            elif file_sha256(path) != part[suffix]:
                damaged[part["index"]] = f"{path.name} changed since it was crafted"
    return damaged


def keep_chunking(directory: Path, chunk_size: int) -> int:
    """Record the set's chunk size before its first chunk (once); return the size in force."""
    size = stored_chunk_size(directory) or chunk_size
    if not (Path(directory) / CHUNKING).exists():
        atomic_write_json(Path(directory) / CHUNKING, {"chunk_size": size})
    return size


def discard(directory: Path, chunks: list[int]) -> None:
    """Remove the damaged ``chunks``, the manifest and every evaluation computed from the set."""
    for k in chunks:
        for path in part_paths(directory, k):
            path.unlink(missing_ok=True)
    for path in Path(directory).glob("eval-*.parquet"):
        path.unlink()
    (Path(directory) / MANIFEST).unlink(missing_ok=True)


def load_table(directory: Path, chunks: int | None = None) -> pd.DataFrame:
    """The per-sample crafting table of ``directory``, in sample order."""
    parts = sorted(Path(directory).glob("part-*.parquet"))
    if chunks is not None and len(parts) != chunks:
        raise RuntimeError(f"{directory} has {len(parts)} of {chunks} chunks; rerun to finish crafting")
    if not parts:
        raise DataError(f"{directory} holds no crafted chunk; rerun the attack to craft it")
    return pd.concat([read_table(p, "crafted chunk", "rerun the attack: it recrafts damaged chunks")
                      for p in parts], ignore_index=True)


def load_adversarials(directory: Path, which: str = "adversarial") -> np.ndarray:
    """All stored adversarial (or, with ``which="clean"``, clean) images of ``directory``, in sample order."""
    parts = sorted(Path(directory).glob("part-*.npz"))
    try:
        return np.concatenate([np.load(p)[which] for p in parts])
    except Exception as exc:  # noqa: BLE001  (zip, pickle and value errors of a damaged archive)
        raise DataError(f"unreadable crafted images in {directory} ({type(exc).__name__}); rerun the attack: "
                        "it recrafts damaged chunks") from None


def eval_path(directory: Path, name: str) -> Path:
    """Where target ``name``'s predictions on the adversarials of ``directory`` are kept."""
    return Path(directory) / f"eval-{name}.parquet"


def write_evaluation(path: Path, table: pd.DataFrame, set_digest: str) -> None:
    """Write a target's predictions on a set, stamped with the digest of the set they were computed from."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), _DIGEST_KEY: set_digest.encode()})
    atomic_write(path, lambda tmp: pq.write_table(arrow, tmp))


def read_evaluation(path: Path, set_digest: str, ids: list[str]) -> pd.DataFrame | None:
    """A stored evaluation if it was computed from exactly this set (its digest and image ids), else None."""
    if not path.exists():
        return None
    try:
        stamp = (pq.read_schema(path).metadata or {}).get(_DIGEST_KEY, b"").decode()
        table = pd.read_parquet(path)
    except Exception:  # noqa: BLE001  (a damaged evaluation is recomputed from the set)
        return None
    if (stamp and stamp != set_digest) or table["image_id"].tolist() != list(ids):
        return None
    return table


def crafted_by(directory: Path) -> dict:
    """Provenance of the run that crafted the finished set in ``directory``."""
    return read_manifest(directory).get("crafted_by", {})


def finished_and_whole(directory: Path, log=print) -> bool:
    """Whether ``directory`` holds a finished set that matches its manifest.

    A damaged finished set loses its damaged chunks, its manifest and its evaluations (they were
    computed from it) and reads as unfinished, so the caller's craft redoes exactly those chunks.
    """
    if not (Path(directory) / MANIFEST).exists():
        return False
    damaged = damaged_chunks(directory)
    if not damaged:
        return True
    what = "; ".join(f"chunk {k}: {why}" for k, why in sorted(damaged.items()))
    log(f"crafted set {Path(directory).name} is damaged ({what}); recrafting {len(damaged)} chunk(s)")
    discard(directory, sorted(damaged))
    return False
