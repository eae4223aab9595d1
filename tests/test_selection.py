"""Record selection: schema check, one configuration per cell, reruns, target weights per row."""
from __future__ import annotations

import json

import pytest

from test_tables import edit_record, record_of, results, rows_of, tiny, write_document  # noqa: F401  (fixtures)

from cxrbench.errors import ConfigError, DataError
from cxrbench.protocols.paper.render import render_all
from cxrbench.records.selection import select_records

QUIET = {"figures": False, "resamples": 100, "log": lambda _: None}


def test_two_configurations_in_one_cell_are_an_error_naming_both_files(results):
    other = record_of(results, "attack", "white-box-irv2-max-fgsm")
    other.update(attack_params={"steps": 10}, images=8, image_set={**other["image_set"], "n": 8, "digest": "other"},
                 profile="paper", cell_key="another-cell", created="2999-01-01T00:00:00+0000")
    write_document(results / "records" / "attack" / "white-box-irv2-max-fgsm-paper.json", other)
    with pytest.raises(ConfigError) as error:
        select_records(results, log=lambda _: None)
    message = str(error.value)
    assert "white-box-irv2-max-fgsm.json" in message and "white-box-irv2-max-fgsm-paper.json" in message
    assert "attack parameters steps 100 vs 10" in message and "attacked images 16 vs 8" in message
    assert "profile quick vs paper" in message and "move the unwanted record out of records/" in message
    (results / "records" / "attack" / "white-box-irv2-max-fgsm-paper.json").unlink()
    assert select_records(results, log=lambda _: None).seeds[0].attack  # the cell alone is fine


def test_two_clean_records_of_other_weights_are_an_error(results):
    other = {**record_of(results, "clean", "irv2-max"), "model_key": "retrained"}
    write_document(results / "records" / "clean" / "irv2-max-retrained.json", other)
    with pytest.raises(ConfigError, match="target weights") as error:
        select_records(results, log=lambda _: None)
    assert "clean/irv2-max.json" in str(error.value) and "clean/irv2-max-retrained.json" in str(error.value)


def test_reruns_of_one_configuration_resolve_to_the_newest_with_a_note(results):
    rerun = {**record_of(results, "clean", "irv2-max"), "accuracy": 0.123456, "created": "2999-01-01T00:00:00+0000"}
    write_document(results / "records" / "clean" / "irv2-max-rerun.json", rerun)
    lines: list[str] = []
    render_all(results, **{**QUIET, "log": lines.append})
    assert rows_of(results / "tables" / "seed0" / "table1_whitebox.csv")[0]["clean"] == "0.1235"
    assert any("seed 0, clean irv2 max standard: 2 reruns of one configuration; using the newest" in line
               and "irv2-max-rerun.json" in line for line in lines)


def test_an_attack_on_other_weights_than_the_rows_clean_record_is_an_error(results):
    edit_record(results, "attack", "black-box-nasnet-max-fgsm", model_key="other-weights")
    with pytest.raises(ConfigError) as error:
        select_records(results, log=lambda _: None)
    assert "black-box-nasnet-max-fgsm.json" in str(error.value) and "nasnet-max.json" in str(error.value)
    assert "one table row would describe two models" in str(error.value)


@pytest.mark.parametrize("document, expected", [
    ({"schema": 1, "kind": "clean", "model": {"model": "irv2"}}, "has record schema 1"),
    ({"hello": "world"}, "is not a cxrbench record"),
])
def test_an_old_or_foreign_record_is_a_data_error_naming_the_file(results, document, expected):
    (results / "records" / "stray.json").write_text(json.dumps(document))
    with pytest.raises(DataError, match=rf"stray\.json .*{expected}|stray\.json {expected}"):
        select_records(results, log=lambda _: None)


def test_a_record_lacking_a_v2_field_is_a_data_error(results):
    document = record_of(results, "attack", "white-box-irv2-max-fgsm")
    del document["cell_key"]
    write_document(results / "records" / "attack" / "white-box-irv2-max-fgsm.json", document)
    with pytest.raises(DataError, match="lacks the attack record fields \\['cell_key'\\]"):
        select_records(results, log=lambda _: None)
