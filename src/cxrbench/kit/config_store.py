"""Every config schema registered with Hydra's ConfigStore, so Hydra types each node while it composes.

``configs/config.yaml`` extends the root schema (``config_schema``: :class:`~cxrbench.settings.RunConfig`),
and every option of a group extends its group's schema through its defaults list
(``defaults: [<group>_schema, _self_]``, Hydra's "static schema with many configs" pattern): an option
states only what differs from the dataclass defaults, and a misspelt key or a wrong type fails while
Hydra composes. The groups are read off RunConfig's dataclass-typed fields (a protocol's settings are
an Optional field there) and the data group's schemas off the data-source registry (each source's
``schema``), so neither a new protocol nor a new dataset adds a line here.

Registration is idempotent (a name stored again replaces itself). It runs when this module is imported,
before anything here can compose, and :func:`cxrbench.kit.compose.compose_job` repeats it so a data
source registered later is known too; Hydra's launchers carry the store to their worker processes.
"""
from __future__ import annotations

import typing
from dataclasses import fields, is_dataclass

from hydra.core.config_store import ConfigStore

from cxrbench.data import data_source_class, list_data_sources
from cxrbench.settings import RunConfig

#: The root schema's name in the store: the first entry of ``configs/config.yaml``'s defaults list.
ROOT_SCHEMA = "config_schema"


def schema_name(option: str) -> str:
    """The store name of a schema: ``<group>_schema`` (``train_schema``), or ``<source>_schema`` for data."""
    return f"{option}_schema"


def _dataclass_of(hint: typing.Any) -> type | None:
    """The dataclass a field is typed with (``Optional[X]`` unwrapped), or None."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_origin(hint) is typing.Union \
        else [hint]
    return args[0] if len(args) == 1 and is_dataclass(args[0]) else None


def group_schemas() -> dict[str, type]:
    """Each config group :class:`RunConfig` types, with its schema (``train`` -> TrainConfig)."""
    hints = typing.get_type_hints(RunConfig)
    return {f.name: schema for f in fields(RunConfig) if (schema := _dataclass_of(hints[f.name])) is not None}


def optional_groups() -> tuple[str, ...]:
    """The groups a run may leave out (null in the defaults list): the attack and the protocols' settings."""
    hints = typing.get_type_hints(RunConfig)
    return tuple(group for group in group_schemas() if typing.get_origin(hints[group]) is typing.Union)


def data_schemas() -> dict[str, type]:
    """Each registered data source with its config schema (``nih`` -> NihDataConfig)."""
    return {name: data_source_class(name).schema for name in list_data_sources()}


def register_schemas() -> None:
    """Store the root schema, every group's schema and every data source's schema (idempotent)."""
    store = ConfigStore.instance()
    store.store(name=ROOT_SCHEMA, node=RunConfig)
    for group, schema in group_schemas().items():
        store.store(group=group, name=schema_name(group), node=schema)
    for source, schema in data_schemas().items():
        store.store(group="data", name=schema_name(source), node=schema)


register_schemas()
