"""Pick the one record per table cell and seed that a report shows, from ``results/records``.

Every record is checked against its schema (:func:`~cxrbench.records.schema.check_record`)
before anything reads it, so an old or foreign file stops the report with one line that names it.

Data source and training recipe are filters: left out, each takes the single value the records
hold, and is an error when they hold several, so a report never silently mixes, say, phantom and
ChestX-ray14 numbers. The run seed is a *dimension*: records are selected per seed (``--seed``
restricts to one), and reports show each seed and their mean ± sd.

Within one seed, a table cell is (setting, target model, pooling, training regime, attack), or
(model, pooling, regime) for the Clean column: an adversarially trained model is a row of its own. Several records of one cell are resolved by what they measured:

* the same configuration (attack ``cell_key``, target ``model_key``, source ``source_key``; for
  clean records ``model_key``, split and image count) -> reruns: the newest ``created`` wins, noted;
* different configurations -> :class:`~cxrbench.errors.ConfigError` naming both files and what
  differs, because choosing by date would silently replace, e.g., a paper-profile cell by a quick one.

An attack record whose target weights (``model_key``) differ from those of the clean record of
its row is an error too: the row's Clean column and its attack columns would describe two models.

Only the paper's pair of models (the registry's ``in_paper`` backbones) fills these tables; records
that involve another model (as target or as source) belong to the transfer matrices
(:mod:`cxrbench.protocols.paper.transfer`) and are left out here, with a note.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cxrbench.errors import ConfigError
from cxrbench.models import list_models
from cxrbench.records.store import created_at, load_records

#: Filter name -> how to read it from a record, and the option that sets it in the scripts.
_FACETS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "data": (lambda r: (r.get("data") or {}).get("source"), "--data"),
    "train": (lambda r: ((r.get("config") or {}).get("train") or {}).get("name"), "--train"),
}

CleanKey = tuple[str, str, str]               # (model, pooling, regime)
AttackKey = tuple[str, str, str, str, str]    # (setting, model, pooling, regime, attack)
#: The record kinds a Tables 1-2 selection reads (robust records have their own table).
_KINDS = ("clean", "attack")

#: How to tell a user which records to keep when one cell holds two configurations.
_CHOOSE = ("keep one: move the unwanted record out of records/ (e.g. into records-unused/), or render "
           "each from its own results directory (scripts/run.py paths.results_dir=...)")


@dataclass
class Selection:
    """The chosen records of one seed of one results directory.

    Attributes:
        results_dir: the directory that relative paths in records (``per_sample``, ``crafted``) start from.
        filters: the resolved filter values (seed, data, train).
        clean: clean records by (model, pooling, regime).
        attack: attack records by (setting, target model, pooling, regime, attack name).
        notes: what was chosen among reruns and what was dropped, one line each.
    """

    results_dir: Path
    filters: dict[str, Any]
    clean: dict[CleanKey, dict] = field(default_factory=dict)
    attack: dict[AttackKey, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def seed(self) -> int | None:
        """The run seed of every record of this selection."""
        return self.filters.get("seed")

    def path(self, relative: str) -> Path:
        """A path stored in a record, resolved against the results directory."""
        return self.results_dir / relative

    def variants(self) -> set[tuple[str, str, str]]:
        """Every (model, pooling, regime) with a clean or an attack record."""
        return set(self.clean) | {(m, p, r) for (_, m, p, r, _) in self.attack}

    def describe(self) -> str:
        """The filters as one human-readable phrase (no timestamps: it lands in tables)."""
        chosen = [f"{k} {v}" for k, v in self.filters.items() if v is not None]
        return ", ".join(chosen) if chosen else "no records"


@dataclass
class Selections:
    """The per-seed selections of one results directory.

    Attributes:
        results_dir: the results directory.
        filters: the resolved data and training filters, and the requested seed (None: all seeds).
        seeds: one :class:`Selection` per seed, in increasing seed order (empty: no records selected).
        notes: notes that concern all seeds (records left out by the filters).
    """

    results_dir: Path
    filters: dict[str, Any]
    seeds: dict[int, Selection] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """``data phantom, train quick, seeds 0, 1`` (no timestamps: it lands in tables)."""
        chosen = [f"{k} {v}" for k, v in self.filters.items() if v is not None and k != "seed"]
        seeds = ", ".join(map(str, self.seeds)) or "none"
        return ", ".join([*chosen, f"seed{'s' if len(self.seeds) != 1 else ''} {seeds}"])


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


def configuration(record: dict) -> tuple:
    """What a record measured: two records of one cell with different configurations are not reruns."""
    if record["kind"] == "clean":
        return ("clean", record["model_key"], (record.get("split") or {}).get("digest"), record["images"])
    return ("attack", record["cell_key"], record["model_key"], record["source_key"])


def _differences(a: dict, b: dict) -> str:
    """The human-readable fields in which two records of one cell differ (why they are not reruns)."""
    parts = []
    if a["kind"] == "attack":
        pa, pb = a.get("attack_params") or {}, b.get("attack_params") or {}
        params = [f"{k} {pa.get(k, '(unset)')} vs {pb.get(k, '(unset)')}" for k in sorted({*pa, *pb}, key=str)
                  if pa.get(k) != pb.get(k)]
        if params:
            parts.append("attack parameters " + ", ".join(params))
        for name, read in (("profile", lambda r: r.get("profile")),
                           ("attacked images", lambda r: (r.get("image_set") or {}).get("n", r.get("images"))),
                           ("attacked image ids (digest)", lambda r: (r.get("image_set") or {}).get("digest")),
                           ("source weights (source_key)", lambda r: r.get("source_key"))):
            if read(a) != read(b):
                parts.append(f"{name} {read(a)} vs {read(b)}")
    else:
        if a["images"] != b["images"]:
            parts.append(f"test images {a['images']} vs {b['images']}")
        if (a.get("split") or {}).get("digest") != (b.get("split") or {}).get("digest"):
            parts.append("test split (digest)")
    if a["model_key"] != b["model_key"]:
        parts.append(f"target weights (model_key) {a['model_key']} vs {b['model_key']}")
    if not parts:  # the keys differ in something the fields above do not show
        parts.append("cell_key " + f"{a.get('cell_key')} vs {b.get('cell_key')}")
    return "; ".join(parts)


def _choose(label: str, candidates: list[dict], records_dir: Path, notes: list[str]) -> dict:
    """The newest of ``candidates`` if they are reruns of one configuration; else a ConfigError."""
    ordered = sorted(candidates, key=lambda r: (created_at(r), r["_file"]))
    chosen = ordered[-1]
    for other in ordered[:-1]:
        if configuration(other) != configuration(chosen):
            raise ConfigError(
                f"{label}: {records_dir / other['_file']} and {records_dir / chosen['_file']} measured different "
                f"things ({_differences(other, chosen)}); {_CHOOSE}")
    if len(ordered) > 1:
        notes.append(f"{label}: {len(ordered)} reruns of one configuration; using the newest "
                     f"({chosen.get('created')}, {chosen['_file']})")
    return chosen


def _select_seed(results_dir: Path, records: list[dict], filters: dict[str, Any]) -> Selection:
    """One seed's records, one per cell (see the module docstring for the rules)."""
    records_dir = results_dir / "records"
    selection = Selection(results_dir, filters)
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if r["kind"] == "clean":
            key: tuple = ("clean", r["model"], r["pooling"], r["regime"])
        elif (r["source"] == r["model"]) != (r["setting"] == "white-box"):
            selection.notes.append(f"{r['_file']}: setting {r['setting']} but crafted on {r['source']} "
                                   f"and tested on {r['model']}; left out")
            continue
        else:
            key = ("attack", r["setting"], r["model"], r["pooling"], r["regime"], r["attack"])
        groups.setdefault(key, []).append(r)
    seed = filters["seed"]
    for key, candidates in sorted(groups.items()):
        chosen = _choose(f"seed {seed}, {' '.join(key)}", candidates, records_dir, selection.notes)
        if key[0] == "clean":
            selection.clean[key[1:]] = chosen
        else:
            selection.attack[key[1:]] = chosen
    for (setting, model, pooling, regime, attack), record in selection.attack.items():
        clean = selection.clean.get((model, pooling, regime))
        if clean is not None and clean["model_key"] != record["model_key"]:
            raise ConfigError(
                f"seed {seed}, {model} {pooling} {regime}: the attack record {records_dir / record['_file']} tested weights "
                f"{record['model_key']} but the clean record {records_dir / clean['_file']} evaluated weights "
                f"{clean['model_key']}, so one table row would describe two models; {_CHOOSE}")
    return selection


def _setting(record: dict) -> tuple:
    """What must agree across seeds: the profile, the attack's parameters less its run seed, the image count.

    A randomised attack takes the run's seed as its ``seed`` parameter, so that parameter differs
    between seeds by design, as do the weights and the seeded image subset.
    """
    params = {k: v for k, v in (record["attack_params"] or {}).items() if k != "seed"}
    return record["profile"], params, record["images"], record["deviations"]


def _check_across_seeds(seeds: dict[int, Selection]) -> None:
    """Refuse a mean over seeds whose cell ran another attack configuration (the image ids may differ)."""
    first: dict[AttackKey, tuple[int, dict]] = {}
    for seed, selection in seeds.items():
        for key, record in selection.attack.items():
            if key not in first:
                first[key] = (seed, record)
                continue
            seed0, record0 = first[key]
            if _setting(record0) != _setting(record):
                root = selection.results_dir / "records"
                raise ConfigError(
                    f"{' '.join(key)}: seed {seed0} ({root / record0['_file']}) and seed {seed} "
                    f"({root / record['_file']}) ran different attack configurations "
                    f"({_differences(record0, record)}), so their mean would mix them; render one seed with "
                    f"--seed, or {_CHOOSE}")


def select_records(results_dir: Path, *, seed: int | None = None, data: str | None = None,
                   train: str | None = None, log: Callable[[str], None] = print) -> Selections:
    """Read the records under ``results_dir/records`` and keep one per cell and seed.

    Args:
        results_dir: the results directory (``records/`` below it; paths in records are relative to it).
        seed: keep only records of this run seed (default: every seed, each selected on its own).
        data: keep records of this data source (``phantom``, ``nih``).
        train: keep records of this training recipe (``quick``, ``paper``).
        log: receives one line per choice made among reruns and per record left out.

    Returns:
        The selections per seed. No records is not an error (reports then show empty cells); a
        requested ``seed`` is always present, empty when no record has it.

    Raises:
        DataError: a file under ``records/`` is not a record of the current schema.
        ConfigError: a filter was left out and the records hold several values of it; or one
            cell of one seed holds records of different configurations; or an attack record's
            target weights differ from its row's clean record; or one cell ran different attack
            configurations in different seeds.
    """
    results_dir = Path(results_dir)
    loaded = load_records(results_dir / "records", kinds=_KINDS)
    pair = set(list_models(in_paper=True))
    records = [r for r in loaded if r["model"] in pair and r.get("source", r["model"]) in pair]
    filters = _resolve(records, {"data": data, "train": train})
    kept = [r for r in records if all(v is None or _FACETS[k][0](r) == v for k, v in filters.items())]
    if seed is not None:
        kept = [r for r in kept if r["seed"] == seed]
    selections = Selections(results_dir, {**filters, "seed": seed})
    seeds = sorted({r["seed"] for r in kept} | ({seed} if seed is not None else set()))
    for s in seeds:
        selections.seeds[s] = _select_seed(results_dir, [r for r in kept if r["seed"] == s],
                                           {"seed": s, **filters})
    _check_across_seeds(selections.seeds)
    dropped = len(records) - len(kept)
    if dropped:
        selections.notes.append(f"{dropped} of {len(records)} records left out by the filters "
                                f"({selections.describe()})")
    if len(records) < len(loaded):
        selections.notes.append(f"{len(loaded) - len(records)} records of models outside the paper's pair "
                                f"({', '.join(sorted(pair))}) left to the transfer matrices")
    for line in [*selections.notes, *(n for s in selections.seeds.values() for n in s.notes)]:
        log(f"records: {line}")
    return selections
