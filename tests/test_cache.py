"""The uint8 preprocessing cache: built once, reused, resumable after an interruption."""
import numpy as np
import pytest

from cxrbench.data.cache import ImageCache, build_cache, to_uint8


def _loader(calls, fail_at=None):
    def load(row):
        if row == fail_at:
            raise KeyboardInterrupt
        calls.append(row)
        return np.full((8, 8), row * 10 % 256, dtype=np.uint8)
    return load


def test_build_then_reuse_without_loading_again(tmp_path):
    calls = []
    ids = [f"img{i}" for i in range(5)]
    cache = build_cache(tmp_path, {"source": "t"}, ids, 8, _loader(calls), progress=False)
    assert calls == [0, 1, 2, 3, 4]
    assert cache.images.shape == (5, 8, 8) and cache.images[3, 0, 0] == 30
    again = build_cache(tmp_path, {"source": "t"}, ids, 8, _loader(calls), progress=False)
    assert calls == [0, 1, 2, 3, 4] and again.directory == cache.directory
    other = build_cache(tmp_path, {"source": "t"}, ids, 16, lambda r: np.zeros((16, 16), np.uint8),
                        progress=False)
    assert other.directory != cache.directory  # keyed by size


def test_interrupted_build_resumes_and_is_not_marked_complete(tmp_path):
    ids = [f"img{i}" for i in range(1200)]
    calls = []
    with pytest.raises(KeyboardInterrupt):
        build_cache(tmp_path, {"source": "t"}, ids, 8, _loader(calls, fail_at=700), progress=False)
    directory = next(tmp_path.iterdir())
    assert not (directory / "meta.json").exists()
    cache = ImageCache(directory, ids, 8, {"source": "t"})
    assert not cache.complete
    resumed = []
    cache.build(_loader(resumed), progress=False)
    assert cache.complete
    assert resumed[0] == 512 and len(resumed) == 1200 - 512  # first 512 were checkpointed
    assert cache.images[1199, 0, 0] == 1199 * 10 % 256


def test_to_uint8_rounds_and_clips():
    assert to_uint8(np.array([-1.0, 0.0, 0.5, 1.0, 2.0])).tolist() == [0, 0, 128, 255, 255]
