"""Tables and figures are byte-identical to the committed render of a stored miniature record set.

``tests/golden/store/`` holds the records (and per-image tables, crafted sets) of every protocol
run on tiny settings; ``tests/golden/expected/`` what rendering them gave when they were made
(``python tests/golden/make_golden.py``). A change that moves a byte of any table or figure fails
here, naming the files; regenerate only when the change is meant.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

from golden_render import render_everything  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_table_and_figure_renders_byte_identical_from_the_stored_records(tmp_path):
    render_everything(GOLDEN / "store", tmp_path / "out")
    got, expected = _files(tmp_path / "out"), _files(GOLDEN / "expected")
    assert len(expected) > 50  # every protocol's outputs, not an empty folder
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []
