"""The script names of the previous release, kept one release as aliases of the one entry and the one report.

Each prints what replaces it (on stderr, so a summary on stdout stays parseable) and runs the same
protocol through the same code path as ``scripts/run.py experiment=<name>``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from cxrbench.app.preflight import script_main
from cxrbench.protocols import get_protocol


def alias_note(old: str, new: str) -> None:
    """Say on stderr that ``old`` is an alias of ``new``."""
    print(f"note: {old} is an alias of `{new}`, kept for one release; use that instead", file=sys.stderr)


def protocol_alias(argv: list[str], *, old: str, protocol: str, doc: str, config_dir: Path, root: Path) -> int:
    """Run ``protocol`` on ``argv``'s overrides as the old script did; the exit code."""
    alias_note(old, "python scripts/run.py experiment=<name> [overrides]")
    chosen = get_protocol(protocol)
    return script_main(argv, doc, lambda overrides: chosen.summary(chosen.run(overrides, config_dir, root)))
