"""Atomic file writes: a reader never sees a half-written file, and a failed write leaves none.

Used by every layer (data cache, checkpoints, crafted sets, records, tables), so it lives at the
package root. A write that the file system refuses (no permission, a file where a folder should
be, a full disk) becomes one :class:`~cxrbench.errors.OutputError` that names the path.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from cxrbench.errors import DataError, OutputError


def _reason(exc: Exception) -> str:
    """The first line of what went wrong: the OS's words where there are some."""
    return getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]


def _refused(path: Path, exc: OSError, setting: str = "paths.results_dir") -> OutputError:
    reason = _reason(exc)
    return OutputError(f"cannot write {path} ({reason}); free space or fix the permissions there, or point "
                       f"{setting} at a writable folder")


def _tmp_prefix(path: Path, pid: int | str) -> str:
    # Host and pid name the writer, so a later write can tell a dead writer's leftover from a live one's.
    return f".{path.name}.{socket.gethostname()}.{pid}."


def _remove_stale(path: Path) -> None:
    """Delete temporaries of ``path`` that a killed writer on this host left behind (SIGKILL runs no cleanup).

    Only files of this host whose writer's pid no longer runs are touched: on a shared file system
    another node's live writer is never disturbed.
    """
    mine = _tmp_prefix(path, "")[:-1]   # up to the host's dot
    for tmp in path.parent.glob(_tmp_prefix(path, "*") + "*.tmp"):
        pid = tmp.name[len(mine):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:  # alive, another user's
            pass


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    A temporary of ``path`` left by a writer that was killed (on this host) is removed first.

    Raises:
        OutputError: the folder cannot be created or the file written; no partial file is left.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path)
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path, os.getpid()), suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _refused(path, exc) from None
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _refused(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def atomic_write_json(path: Path, payload: Any) -> Path:
    """Write ``payload`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


#: Bytes the write probe writes: an empty file needs an inode only, so a full disk would pass with 0 bytes.
_PROBE_BYTES = 4 * 4096


def check_writable(folder: Path, setting: str) -> None:
    """Prove that ``folder`` can be created and written, before any work starts; leave no trace.

    The probe writes a few KiB and syncs them to the disk: a full disk (``ENOSPC``) or an exceeded
    quota fails here, not in the middle of a run (Hydra's first ``.hydra/*.yaml``, a checkpoint).

    Raises:
        OutputError: naming the folder, the reason and the config key (``setting``) to change.
    """
    import errno

    folder = Path(folder).absolute()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    created = [p for p in [folder, *folder.parents] if p.is_relative_to(existing) and p != existing]
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, f"{existing} is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=folder)
        try:
            payload = memoryview(b"\0" * _PROBE_BYTES)
            while payload:  # os.write may write less than asked; ENOSPC arrives here or at fsync
                payload = payload[os.write(fd, payload):]
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)  # then the fix is space, not permissions
        fix = (f"free space there, or point {setting} at a writable folder on another disk" if full
               else f"point {setting} at a writable folder")
        raise OutputError(f"{setting}={folder} cannot be created or written ({reason}); {fix}") from None
    finally:
        for path in created:  # deepest first: the folders this check made, not the run
            try:
                path.rmdir()
            except OSError:
                pass


def read_json(path: Path, what: str, fix: str = "delete it or rerun the run that wrote it") -> Any:
    """The JSON document at ``path``; a missing, truncated or corrupt file is one :class:`DataError` line.

    Args:
        path: the file.
        what: what the file is, for the message (``record``, ``checkpoint summary``, ``crafted-set manifest``).
        fix: what the user should do about a bad file.
    """
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable {what} {path} ({_reason(exc)}); {fix}") from None


def read_table(path: Path, what: str, fix: str = "delete it or rerun the run that wrote it", **kwargs: Any) -> pd.DataFrame:
    """The Parquet table at ``path`` (a DataFrame); a missing or corrupt file is one :class:`DataError` line."""
    path = Path(path)
    try:
        return pd.read_parquet(path, **kwargs)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"unreadable {what} {path} ({_reason(exc)}); {fix}") from None


def file_sha256(path: Path) -> str:
    """The SHA-256 (64 hex digits) of a file's bytes: what a weights file or a stored part is."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
