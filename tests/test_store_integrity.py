"""A damaged store is found before a number is computed from it (issue 25, points 1 and 3).

Crafted sets prove they are whole (their manifest lists every part, its rows and digests); a
damaged one is recrafted where it is damaged, and the record equals the undamaged one. Every
reader of a record, a checkpoint summary or a manifest turns a truncated file into one line.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, TINY, compose_config, error_lines, run_cli

from cxrbench.protocols.paper.attack import run_attack
from cxrbench.errors import ConfigError, DataError
from cxrbench.evaluation.crafted_set import damaged_chunks, part_paths
from cxrbench.records.store import finished_record
from cxrbench.protocols.robust.run import _Ladder

#: What changes between two runs that measured the same thing: when, how long, which run, where.
VOLATILE = {"created", "wall_seconds", "seconds", "attack_seconds", "crafting_seconds", "train_seconds", "path",
            "reused", "crafted_reused", "crafted_by", "git_sha", "git_dirty", "checkpoint", "paths", "mean_seconds",
            "median_seconds"}


def measured(record: dict) -> dict:
    """``record`` without the fields that say when, where and how fast it was computed."""
    if isinstance(record, dict):
        return {k: measured(v) for k, v in record.items() if k not in VOLATILE}
    if isinstance(record, list):
        return [measured(v) for v in record]
    return record


ATTACK = ["model=irv2", "train.input_size=75", "grid.models=[irv2]", "attack=fgsm", "++attack.quick.images=6",
          "++attack.quick.steps=20", "attack.chunk_size=2"]


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """A finished white-box FGSM cell on the tiny IRv2: its config, crafted set and undamaged record."""
    tmp = tmp_path_factory.mktemp("integrity")
    cfg = compose_config(TINY + ATTACK, tmp)
    (record,) = run_attack(cfg, [], ROOT, log=lambda *_: None)
    return cfg, tmp / "results" / record["crafted"], record


def _rerun(cfg) -> tuple[dict, list[str]]:
    lines = []
    (record,) = run_attack(cfg, [], ROOT, log=lines.append)
    return record, lines


def test_a_finished_set_lists_its_parts_rows_and_digests(attacked):
    _, directory, record = attacked
    manifest = json.loads((directory / "done.json").read_text())
    assert [p["rows"] for p in manifest["parts"]] == [2, 2, 2] and manifest["n"] == record["images"] == 6
    assert all(len(p["parquet"]) == 64 and len(p["npz"]) == 64 for p in manifest["parts"]) and manifest["digest"]
    assert damaged_chunks(directory) == {}


@pytest.mark.parametrize("damage", ["delete parquet", "truncate parquet", "delete npz and eval", "truncate npz"])
def test_a_damaged_set_is_recrafted_where_damaged_and_the_record_equals_the_undamaged_one(attacked, damage):
    cfg, directory, record = attacked
    table, images = part_paths(directory, 1)
    kept = {p: p.stat().st_mtime_ns for p in (*part_paths(directory, 0), *part_paths(directory, 2))}
    if damage == "delete parquet":
        table.unlink()
    elif damage == "truncate parquet":
        table.write_bytes(table.read_bytes()[:100])
    elif damage == "truncate npz":
        images.write_bytes(images.read_bytes()[:-50])
    else:
        images.unlink()
        for path in directory.glob("eval-*.parquet"):
            path.unlink()
    assert set(damaged_chunks(directory)) == {1}
    again, lines = _rerun(cfg)
    assert any("is damaged (chunk 1" in line and "recrafting 1 chunk(s)" in line for line in lines)
    assert measured(again) == measured(record)   # same n, same statistics: nothing computed from less
    assert not again["crafted_reused"]
    assert {p: p.stat().st_mtime_ns for p in kept} == kept   # the undamaged chunks were not redone
    assert damaged_chunks(directory) == {}


def test_a_stale_evaluation_is_recomputed_not_read(attacked):
    cfg, directory, record = attacked
    (evaluation,) = directory.glob("eval-*.parquet")
    stale = pd.read_parquet(evaluation).iloc[:4]    # an evaluation of fewer images than the set holds
    stale.to_parquet(evaluation, index=False)
    again, _ = _rerun(cfg)
    assert measured(again) == measured(record) and len(pd.read_parquet(evaluation)) == 6


def test_truncated_json_anywhere_is_one_line_that_names_the_file(attacked, tmp_path):
    cfg, directory, record = attacked
    path = Path(record["path"])
    saved = path.read_text()
    try:
        path.write_text(saved[:40])
        with pytest.raises(DataError, match=f"unreadable record {path} .*delete it or rerun"):
            finished_record(path, path)
    finally:
        path.write_text(saved)
    manifest = directory / "done.json"
    saved = manifest.read_text()
    try:
        manifest.write_text(saved[:30])
        with pytest.raises(DataError, match=f"unreadable crafted-set manifest {manifest}"):
            _rerun(cfg)
    finally:
        manifest.write_text(saved)


def test_a_truncated_checkpoint_summary_is_one_error_line_not_a_hydra_traceback(tmp_path):
    overrides = TINY + ["model=irv2", "train.input_size=75", f"paths.results_dir={tmp_path / 'results'}",
                        f"paths.cache_dir={tmp_path / 'cache'}"]
    assert run_cli(*overrides, timeout=900).returncode == 0
    (summary,) = (tmp_path / "results" / "checkpoints").rglob("done.json")
    summary.write_text(summary.read_text()[:25])
    proc = run_cli(*overrides, timeout=900)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "Error executing job" not in proc.stderr
    (line,) = error_lines(proc)
    assert line.startswith(f"error: unreadable checkpoint summary {summary} (")
    assert line.endswith(f"; delete {summary.parent} to retrain the model")


def test_more_images_than_the_test_split_are_refused_not_recorded(attacked):
    cfg, _, _ = attacked
    too_many = compose_config(TINY + ATTACK[:-3] + ["++attack.quick.images=100000"], Path(cfg.paths.results_dir).parent)
    with pytest.raises(ConfigError, match=r"attack.quick.images=100000 exceeds the 10 test images .* at most 10"):
        run_attack(too_many, [], ROOT, log=lambda *_: None)


def test_the_robust_ladder_read_back_from_its_parquet_can_walk_on(tmp_path):
    """Issue 25 point 2: state restored from a read-back table was read-only, so a resumed walk failed."""
    labels, clean = np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9])
    walked = _Ladder(labels, clean)
    walked.broken[1], walked.broken_at[1], walked.adv_prob[1] = True, 1 / 255, 0.3
    path = tmp_path / "cell.parquet"
    pd.DataFrame({"adv_prob": walked.adv_prob, "broken": walked.broken, "broken_at": walked.broken_at}).to_parquet(path)
    resumed = _Ladder(labels, clean)
    resumed.restore(pd.read_parquet(path))
    assert resumed.broken.tolist() == [False, True, False] and resumed.adv_prob[1] == 0.3
    resumed.adv_prob[2], resumed.broken[2], resumed.broken_at[2] = 0.1, True, 2 / 255   # the next ε writes here
    assert resumed.broken.tolist() == [False, True, True] and resumed.adv_prob.tolist() == [0.2, 0.3, 0.1]


def test_a_killed_writers_temporary_is_removed_by_the_next_write_a_live_ones_is_not(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from cxrbench.io import atomic_write_text

    target = tmp_path / "record.json"
    writer = ("import sys, time; from pathlib import Path; from cxrbench.io import atomic_write; "
              "atomic_write(Path(sys.argv[1]), lambda tmp: (tmp.write_text('half'), print('writing', flush=True), "
              "time.sleep(60)))")

    def start():
        proc = subprocess.Popen([sys.executable, "-c", writer, str(target)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "writing"
        return proc

    killed = start()
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    left = list(tmp_path.glob(".record.json.*.tmp"))
    assert len(left) == 1 and str(killed.pid) in left[0].name   # SIGKILL ran no cleanup
    live = start()
    try:
        ours = list(set(tmp_path.glob(".record.json.*.tmp")) - set(left))
        atomic_write_text(target, "{}")
        assert not left[0].exists()   # the dead writer's leftover is gone
        assert ours and ours[0].exists() and target.read_text() == "{}"   # the live writer's is untouched
    finally:
        live.kill()
        live.wait()
    time.sleep(0.1)
    atomic_write_text(target, "{}")
    assert not list(tmp_path.glob(".record.json.*.tmp"))
