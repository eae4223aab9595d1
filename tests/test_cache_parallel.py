"""The cache built by worker processes, or by shards as a Slurm array's tasks would, is byte for byte
the cache built serially (issue 23, point 4); a chunk is trusted only once its marker exists."""
import importlib.util
import os
import subprocess

import numpy as np
import pytest

from conftest import ROOT
from nih_fixtures import make_mini_nih

from cxrbench.kit.compose import load_config
from cxrbench.data.nih_source import NihDataConfig
from cxrbench.data import create_data_source
from cxrbench.data.build import build_data, slurm_array_shard
from cxrbench.data.cache import ImageCache
from cxrbench.data.nih_source import NihSource
from cxrbench.errors import ConfigError, OutputError

SIZE, CHUNK = 24, 8  # 40 images in 5 chunks of 8 rows


@pytest.fixture(scope="module")
def nih(tmp_path_factory):
    root = tmp_path_factory.mktemp("nih")
    meta = make_mini_nih(root, n_images=40, size=48)
    source = NihSource(NihDataConfig(root=str(root)))
    ids = list(meta["Image Index"].sort_values())
    return source, ids


def _cache(directory, ids, source) -> ImageCache:
    return ImageCache(directory, ids, SIZE, source.description(), chunk_rows=CHUNK)


def _files(cache: ImageCache) -> dict[str, bytes]:
    return {name: (cache.directory / name).read_bytes() for name in ("images.u8", "ids.txt", "meta.json")}


@pytest.fixture(scope="module")
def serial(nih, tmp_path_factory):
    source, ids = nih
    cache = _cache(tmp_path_factory.mktemp("serial"), ids, source).build(source.loader(ids, SIZE), progress=False)
    assert cache.complete and sorted(os.listdir(cache.target.filled)) == [f"{c:06d}" for c in range(5)]
    return _files(cache)


def test_two_processes_build_the_serial_cache_byte_for_byte(nih, serial, tmp_path):
    source, ids = nih
    cache = _cache(tmp_path, ids, source).build(source.loader(ids, SIZE), progress=False, processes=2, workers=2)
    assert _files(cache) == serial
    # The rows are the images, not zeros of a sparse file that nobody wrote.
    assert np.asarray(cache.images).reshape(len(ids), -1).max(axis=1).min() > 0


def test_shards_filled_one_after_the_other_complete_the_same_cache(nih, serial, tmp_path):
    source, ids = nih
    load = source.loader(ids, SIZE)
    first = _cache(tmp_path, ids, source)
    assert first.fill_shard(load, 0, 2) == 3 * CHUNK  # chunks 0, 2, 4: not complete yet
    assert sorted(os.listdir(first.target.filled)) == ["000000", "000002", "000004"]
    assert not first.complete
    # A second task opens the same cache on its own (another process, another node).
    second = _cache(tmp_path, ids, source)
    assert second.fill_shard(load, 1, 2, processes=2) == 2 * CHUNK and second.complete and first.complete
    assert second.fill_shard(load, 1, 2) == 0
    assert _files(first) == serial
    with pytest.raises(ValueError, match="shard 2 is not one of 0..1"):
        first.fill_shard(load, 2, 2)


def test_a_chunk_without_its_marker_is_filled_again_and_only_it(nih, serial, tmp_path):
    source, ids = nih
    cache = _cache(tmp_path, ids, source)
    assert cache.fill_shard(source.loader(ids, SIZE), 0, 1) == len(ids) and cache.complete
    # A worker killed after writing chunk 3's pixels but before its marker: pixels may be anything.
    (cache.directory / "meta.json").unlink()
    cache.target.marker(3).unlink()
    with open(cache.target.images, "r+b") as f:
        f.seek(3 * CHUNK * SIZE * SIZE)
        f.write(b"\x00" * CHUNK * SIZE * SIZE)
    calls = []

    def counting(row):
        calls.append(row)
        return source.loader(ids, SIZE)(row)

    _cache(tmp_path, ids, source).build(counting, progress=False)
    assert calls == list(range(3 * CHUNK, 4 * CHUNK))
    assert _files(cache) == serial


def test_processes_refuse_a_loader_that_does_not_pickle_and_a_bad_setting(nih, tmp_path):
    source, ids = nih
    with pytest.raises(ValueError, match="needs a loader that pickles"):
        _cache(tmp_path, ids, source).build(lambda row: np.zeros((SIZE, SIZE), np.uint8), progress=False,
                                             processes=2)
    with pytest.raises(ConfigError, match="data.num_processes must be a whole number of at least 1, got 0"):
        NihSource(NihDataConfig(root="/nonexistent", num_processes=0))


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root to mount)."""
    disk = tmp_path / "small"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_cache_larger_than_the_free_space_is_refused_before_any_image_is_read(nih, small_disk):
    source, ids = nih
    cache = ImageCache(small_disk / "cache", ids, 256, source.description())  # 40 x 256² bytes = 2.5 MiB
    with pytest.raises(OutputError, match=r"needs 2\.5 MiB and .* has 1\.0 MiB free; free space there or point "
                                          r"paths\.cache_dir at a larger disk"):
        cache.build(source.loader(ids, 256), progress=False)
    assert sorted(p.name for p in cache.directory.iterdir()) == [".lock"]


def _array_env(task: int, count: int, first: int = 0) -> dict[str, str]:
    return {"SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_MIN": str(first),
            "SLURM_ARRAY_TASK_MAX": str(first + count - 1), "SLURM_ARRAY_TASK_COUNT": str(count)}


def test_a_slurm_array_task_finds_its_shard_and_a_gapped_array_is_refused():
    assert slurm_array_shard({}) is None
    assert slurm_array_shard(_array_env(5, 8, first=3)) == (2, 8)
    gapped = dict(_array_env(0, 4), SLURM_ARRAY_TASK_MAX="6")  # --array=0-6:2
    with pytest.raises(ConfigError, match=r"sbatch --array=0-3$"):
        slurm_array_shard(gapped)


def test_scripts_cache_run_as_two_array_tasks_leaves_the_caches_a_run_builds(tmp_path, monkeypatch, capsys):
    make_mini_nih(tmp_path / "nih", n_images=40, size=48)
    overrides = ["data=nih", f"data.root={tmp_path / 'nih'}", "data.test_size=4", "data.test_positives=2",
                 "data.val_size=4", f"train.input_size={SIZE}", "progress=false",
                 f"paths.results_dir={tmp_path / 'results'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    cfg = load_config(overrides, ROOT / "configs")
    source = create_data_source(cfg.data, ROOT)
    n = source.split().sizes()
    spec = importlib.util.spec_from_file_location("cache_script", ROOT / "scripts" / "cache.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    # 40 images: one chunk per cache, so task 1 of 2 has nothing to fill and task 0 completes them.
    expected = {1: "train +0 images, waiting for other shards, val +0 images, waiting for other shards",
                0: f"train +{n['train']} images, complete, val +{n['val']} images, complete, "
                   f"test +{n['test']} images, complete"}
    for task in (1, 0):
        for key, value in _array_env(task, 2).items():
            monkeypatch.setenv(key, value)
        assert script.main(overrides) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"shard {task} of 2 at {SIZE}px filled in ") and expected[task] in out, out
    for key in _array_env(0, 2):
        monkeypatch.delenv(key)
    data = build_data(source, SIZE, tmp_path / "cache", progress=False)
    reference = build_data(source, SIZE, tmp_path / "serial", progress=False)
    for subset in ("train", "val", "test"):
        assert _files(getattr(data, subset).cache) == _files(getattr(reference, subset).cache)
