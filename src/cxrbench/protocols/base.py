"""The protocol interface and its registry: every measurement protocol behind one shape.

A protocol (the paper's Tables 1-2, the robust table, the multi-label protocol, the studies)
plans its cells from the command line's overrides (every config composed and validated before
any work), measures them into records (finished cells are read back, so an interrupted run
resumes), and renders its tables and figures from records alone. ``scripts/run.py
experiment=<name>`` picks the protocol the experiment names (its ``protocol`` key) and runs it;
``scripts/report.py`` renders every registered protocol's outputs. A new protocol is its own
package with a class like those below, its settings schema and config group, and one
:func:`register_protocol` line in :mod:`cxrbench.protocols`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from cxrbench.errors import ConfigError
from cxrbench.kit.planning import Work

Log = Callable[[str], None]


@dataclass
class Plan:
    """What a protocol would do: the validated base config, one line per cell, and what the cells need.

    ``work`` (trainings, crafted sets, attack runs, each with whether the store holds it and its image
    passes) is filled when the plan is asked for with the project root, so it can look in the store.
    """

    protocol: str
    base: Any
    items: list[str] = field(default_factory=list)
    work: list[Work] = field(default_factory=list)


@dataclass(frozen=True)
class RenderRequest:
    """Which records to render and what to write: the filters and switches of ``scripts/report.py``.

    ``seed`` and ``train`` select the paper protocol's records (its tables come per seed and recipe);
    ``data`` selects every protocol's; ``tables`` / ``figures`` say what to write (a protocol whose
    figures come with its tables writes both under ``tables``).
    """

    seed: Optional[int] = None
    data: Optional[str] = None
    train: Optional[str] = None
    resamples: int = 1000
    tables: bool = True
    figures: bool = True


class Protocol(ABC):
    """One measurement protocol.

    A subclass sets ``runner`` and ``reporter`` (as ``staticmethod``) and implements the rest.

    Attributes:
        name: registry name, the value of the config's ``protocol`` key.
        title: one line for listings.
        settings: the top-level config key holding this protocol's settings (None: it has none).
    """

    name: str = ""
    title: str = ""
    settings: Optional[str] = None

    def check(self, run: Any) -> None:
        """Validate this protocol's settings of a typed run config; raise ConfigError on the first problem."""

    @abstractmethod
    def plan(self, overrides: list[str], config_dir: Path, root: Optional[Path] = None) -> Plan:
        """Compose and validate every cell's config; nothing is trained or written.

        With ``root`` (the project root the run would resolve its paths under) the plan also lists
        its :class:`~cxrbench.kit.planning.Work`: which trainings and attack runs the store holds.
        """

    #: ``runner(overrides, config_dir, root, log=...)``: measure every cell (reusing finished ones), render.
    runner: Callable[..., Any]
    #: ``reporter(report)``: the closing lines of a run.
    reporter: Callable[[Any], str]

    def run(self, overrides: list[str], config_dir: Path, root: Path, *, log: Log = print) -> Any:
        """Measure every cell (reusing finished ones) and render; the protocol's report."""
        return self.runner(overrides, config_dir, root, log=log)

    def summary(self, report: Any) -> str:
        """The closing lines a command prints for ``report``."""
        return self.reporter(report)

    @abstractmethod
    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        """This protocol's tables and figures from the records under ``results``; name -> file ({} without records)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, settings={self.settings!r})"


_PROTOCOLS: dict[str, Protocol] = {}


def register_protocol(protocol: Protocol) -> Protocol:
    """Add ``protocol`` to the registry; names are unique."""
    if protocol.name in _PROTOCOLS:
        raise ValueError(f"protocol {protocol.name!r} is already registered")
    _PROTOCOLS[protocol.name] = protocol
    return protocol


def list_protocols() -> list[str]:
    """Names of the registered protocols, in registration order."""
    return list(_PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    """Look up a protocol; an unknown name lists the valid ones."""
    try:
        return _PROTOCOLS[name]
    except KeyError:
        raise ConfigError(f"unknown protocol {name!r}; choose one of: {', '.join(_PROTOCOLS)}") from None
