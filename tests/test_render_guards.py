"""Renders never write empty over full: nothing to render is one error, a less complete table is refused."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from test_tables import results, rows_of, tiny  # noqa: F401  (fixtures)

from cxrbench.errors import OutputError

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--resamples", "50"]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _errors(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("script", ["make_tables", "make_figures"])
def test_a_missing_results_folder_is_one_error_and_creates_nothing(tmp_path, capsys, script):
    missing = tmp_path / "nonexistent"
    assert _script(script).main(["--results", str(missing)]) == 2
    (line,) = _errors(capsys)
    assert str(missing) in line and "does not exist" in line and "--results" in line
    assert not missing.exists()


def test_a_results_folder_without_records_is_one_error_and_creates_nothing(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    assert _script("make_tables").main(["--results", str(tmp_path / "results")]) == 2
    (line,) = _errors(capsys)
    assert "no records" in line and str(tmp_path / "results" / "records") in line
    assert list((tmp_path / "results").iterdir()) == []


def _refused_filter(results: Path, capsys, *selection: str) -> str:
    """Render every table, then render with ``selection``: exit 2, tables untouched; the one error line."""
    make_tables = _script("make_tables")
    assert make_tables.main(["--results", str(results), *FAST]) == 0
    before = _snapshot(results / "tables")
    capsys.readouterr()
    assert make_tables.main(["--results", str(results), *selection, *FAST]) == 2
    (line,) = _errors(capsys)
    assert _snapshot(results / "tables") == before
    return line


def test_an_unknown_seed_names_the_seeds_the_records_hold_and_touches_no_table(results, capsys):
    line = _refused_filter(results, capsys, "--seed", "7")
    assert "seed 7" in line and "seeds 0" in line
    assert not (results / "tables" / "seed7").exists()
    figures = _snapshot(results / "figures")  # the transfer heat maps of make_tables
    assert _script("make_figures").main(["--results", str(results), "--seed", "7"]) == 2
    (line,) = _errors(capsys)
    assert "seed 7" in line and _snapshot(results / "figures") == figures


def test_a_filter_that_selects_nothing_names_what_the_records_hold(results, capsys):
    line = _refused_filter(results, capsys, "--data", "phantom")
    assert "data phantom" in line and "blobs" in line


def test_a_less_complete_render_is_refused_until_replace(results, capsys):
    make_tables = _script("make_tables")
    assert make_tables.main(["--results", str(results), *FAST]) == 0
    before = _snapshot(results / "tables")
    (results / "records" / "attack" / "white-box-nasnet-max-fgsm.json").unlink()  # one cell less
    capsys.readouterr()
    assert make_tables.main(["--results", str(results), *FAST]) == 2
    (line,) = _errors(capsys)
    assert "table1_whitebox" in line and ".csv" in line and "--replace" in line and "delete it" in line
    assert _snapshot(results / "tables") == before  # not one file of the refused table replaced
    assert make_tables.main(["--results", str(results), "--replace", *FAST]) == 0
    rows = {(r["pooling"], r["model"], r["metric"]): r for r in rows_of(results / "tables" / "seed0" /
                                                                        "table1_whitebox.csv")}
    assert rows["MP", "NL", "acc"]["G1"] == "" and rows["MP", "IR2", "acc"]["G1"] != ""


def test_every_table_writer_refuses_a_less_complete_csv(tmp_path):
    from cxrbench.reporting.table_format import replacing_tables, write_table

    full = pd.DataFrame({"variant": ["a", "b"], "x": ["0.5", "0.7"], "y": ["0.1", "0.2"]})
    fewer = full.assign(y=["0.1", ""])
    written = write_table(tmp_path, "t", full, [], "title")
    before = {name: path.read_bytes() for name, path in written.items()}
    with pytest.raises(OutputError, match=r"t\.csv: it has 6 filled cells, this render only 5"):
        write_table(tmp_path, "t", fewer, [], "title")
    assert {name: path.read_bytes() for name, path in written.items()} == before  # md and tex kept too
    write_table(tmp_path, "t", full.assign(x=["0.6", "0.8"]), [], "title")  # as complete: replaced
    with replacing_tables():
        write_table(tmp_path, "t", fewer, [], "title")
    assert rows_of(tmp_path / "t.csv")[1]["y"] == ""
