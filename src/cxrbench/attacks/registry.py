"""Attack registry in the style of timm: ``register_attack`` / ``list_attacks`` / ``create_attack``.

Each entry carries the id it has in Taghanaki et al. 2018's tables (G1...D3), its family and
what it needs from the model, so reports and sweeps never hard-code those facts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from cxrbench.errors import ConfigError

FAMILIES = ("gradient", "score", "decision")
NEEDS = ("gradients", "scores", "labels")


@dataclass(frozen=True)
class AttackSpec:
    """What the project knows about one attack.

    Attributes:
        name: short name used in configs (``pgd``).
        paper_id: the column of the paper's tables (``G2``), or the column label of an attack the
            paper did not run (``APGD``).
        title: the paper's name for it (``PGD``).
        family: ``gradient``, ``score`` or ``decision`` based.
        needs: what it uses from the model: ``gradients``, ``scores`` or ``labels`` only.
        builder: the attack class; keyword arguments are its parameters.
        in_paper: one of Taghanaki et al.'s ten attacks (the default grid of the reproduction).
    """

    name: str
    paper_id: str
    title: str
    family: str
    needs: str
    builder: Callable[..., Any]
    in_paper: bool = True


_ATTACKS: dict[str, AttackSpec] = {}


def register_attack(name: str, *, paper_id: str, title: str, family: str, needs: str, in_paper: bool = True):
    """Class decorator adding an attack under ``name`` (``in_paper=False``: not one of the paper's ten)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if needs not in NEEDS:
        raise ValueError(f"needs must be one of {NEEDS}, got {needs!r}")

    def add(cls):
        if name in _ATTACKS:
            raise ValueError(f"attack {name!r} is already registered")
        _ATTACKS[name] = AttackSpec(name, paper_id, title, family, needs, cls, in_paper)
        cls.needs = needs
        return cls

    return add


def list_attacks(family: str | None = None, *, paper_only: bool = False) -> list[str]:
    """Registered attack names in the order of the paper's tables (G, then D, then S), others last.

    Args:
        family: only attacks of this family.
        paper_only: only the paper's ten (what ``grid.attacks: []`` runs).
    """
    order = {"G": 0, "D": 1, "S": 2}
    specs = [s for s in _ATTACKS.values() if (family is None or s.family == family)
             and (s.in_paper or not paper_only)]
    return [s.name for s in sorted(specs, key=lambda s: (order.get(s.paper_id[0], 9), s.paper_id))]


def get_attack_spec(name: str) -> AttackSpec:
    """Look up an attack; an unknown name lists the valid ones."""
    try:
        return _ATTACKS[name]
    except KeyError:
        raise ConfigError(f"unknown attack {name!r}; choose one of: {', '.join(list_attacks())}") from None


def create_attack(name: str, **params: Any):
    """Build attack ``name`` with ``params``; an unknown parameter names the valid ones."""
    spec = get_attack_spec(name)
    try:
        return spec.builder(**params)
    except TypeError as exc:
        import inspect

        valid = [p for p in inspect.signature(spec.builder).parameters if p != "self"]
        raise ConfigError(f"bad parameters for attack {name!r} ({exc}); valid parameters: "
                          f"{', '.join(valid)}") from None
