"""Provenance attached to every record: package versions, git commit, host."""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

_PACKAGES = ("cxrbench", "torch", "torchvision", "timm", "foolbox", "hydra-core", "numpy", "pandas",
             "scikit-learn", "scipy", "torchxrayvision")


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@lru_cache(maxsize=None)
def git_state(root: Path) -> dict[str, object]:
    """Commit SHA and whether the tree had uncommitted changes (None outside a checkout)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_sha": sha, "git_dirty": None if status is None else bool(status)}


def manifest(root: Path) -> dict[str, object]:
    """Everything needed to tell two records' software apart."""
    return {"versions": package_versions(), "python": platform.python_version(),
            "platform": platform.platform(), **git_state(Path(root))}
