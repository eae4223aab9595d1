"""Fidelity to Foolbox 1.x and per-image randomness, on a tiny CNN (each test a few seconds).

Pins: S1's de-duplicated neighbourhoods, D2's 1/steps … 1 grid, PGD/BIM's ε search
(``_run_binary_search`` of Foolbox 1.x), randomness keyed by (seed, image key), L-BFGS's
serialised workers and the ``weakening`` attribute.
"""
from __future__ import annotations

import hashlib
import threading
import time
import types
from collections import defaultdict
from pathlib import Path

import foolbox as fb
import numpy as np
import pytest
import torch
import yaml

from tiny_models import blob_images, foolbox_model, trained_tiny_cnn

import cxrbench.attacks.lbfgs as lbfgs_module
from cxrbench.attacks import (BIM, FGSM, PGD, AdditiveGaussianNoiseAttack, ContrastReductionAttack, DeepFool,
                              GaussianBlurAttack, IterativeLinfAttack, LBFGSAttack, LocalSearchAttack,
                              SinglePixelAttack, create_attack, image_key)
from cxrbench.attacks.base import AttackStats
from cxrbench.attacks.local_search import _neighbourhoods

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "attack"


@pytest.fixture(scope="module")
def tiny():
    """Model and 10 images just either side of its decision boundary, all correctly classified.

    Blob images barely notice one pixel, so each image blends a plain and a blob image to just
    past the boundary: single pixels, noise and local search then fool some of them.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: threads only add start-up overhead
    model = trained_tiny_cnn()
    x, y = blob_images(20, seed=11)
    plain, blob = x[y == 0], x[y == 1]
    lo, hi = torch.zeros(len(plain)), torch.ones(len(plain))
    with torch.no_grad():
        for _ in range(20):  # per pair, the blend weight where the decision flips
            mid = (lo + hi) / 2
            is_blob = model(torch.lerp(plain, blob, mid.view(-1, 1, 1, 1))).argmax(1) == 1
            hi, lo = torch.where(is_blob, mid, hi), torch.where(is_blob, lo, mid)
        offset = torch.tensor([-0.05, 0.05]).repeat(len(plain) // 2)
        x = torch.lerp(plain, blob, (mid + offset).clamp(0, 1).view(-1, 1, 1, 1))
        y = model(x).argmax(1)
    yield {"model": model, "fmodel": foolbox_model(model), "x": x, "y": y}
    torch.set_num_threads(threads)


# --- S1 local search -------------------------------------------------------------------------


def test_neighbourhoods_list_each_location_once():
    chosen = np.array([5 * 16 + 5, 5 * 16 + 6, 6 * 16 + 5, 0])  # overlapping squares, one at a corner
    locs = _neighbourhoods(chosen, 5, 16, 16)
    rows, cols = np.divmod(locs, 16)
    expected = {(r, c) for a, b in (divmod(int(p), 16) for p in chosen)
                for r in range(a - 5, a + 6) for c in range(b - 5, b + 6) if 0 <= r < 16 and 0 <= c < 16}
    assert len(locs) == len(set(locs.tolist())) == len(expected)
    assert set(zip(rows.tolist(), cols.tolist())) == expected


class _RecordingLocalSearch(LocalSearchAttack):
    """Keeps, per round, every active sample's candidate locations and normalised state."""

    def attack(self, model, x, y, rows):
        self.log = []
        return super().attack(model, x, y, rows)

    def _score(self, model, state, image, y, active, locs, mid, span):
        self.log.append({int(i): (locs[i].copy(), state[i].clone()) for i in active})
        return super()._score(model, state, image, y, active, locs, mid, span)


def test_local_search_rounds_have_distinct_candidates_and_wrap_each_pixel_once(tiny):
    attack = _RecordingLocalSearch(R=12)
    attack(tiny["fmodel"], tiny["x"], tiny["y"], epsilons=None)
    compared = 0
    for now, after in zip(attack.log, attack.log[1:]):
        for i, (locs, state) in now.items():
            assert len(np.unique(locs)) == len(locs), "a location was listed twice in a round"
            if i not in after:
                continue
            new = after[i][1]
            changed = (new != state).any(0).flatten()
            # Each of the t chosen pixels changes exactly once: scaled by r, wrapped once.
            assert int(changed.sum()) == attack.t
            assert set(np.flatnonzero(changed.numpy()).tolist()) <= set(locs.tolist())
            v = attack.r * state
            once = torch.where(v < -0.5, v + 1, torch.where(v > 0.5, v - 1, v))
            mask = changed.view(state.shape[1:])
            assert torch.equal(new[:, mask], once[:, mask])
            compared += 1
    assert compared >= 20  # enough rounds after the random start, where neighbourhoods overlap


# --- D2 contrast reduction -------------------------------------------------------------------


def test_contrast_reduction_grid_is_foolbox1s():
    grid = ContrastReductionAttack(steps=1000).grid()
    assert np.array_equal(grid, np.linspace(0, 1, num=1001)[1:])  # 1.x contrast.py, bit for bit
    assert len(grid) == 1000 and grid[0] == 0.001 and grid[-1] == 1.0


class _GreyOnly(torch.nn.Module):
    """Class 1 only for a flat (all-grey) image: only the last point of 1.x's grid fools it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = x.flatten(1).amax(1) - x.flatten(1).amin(1)
        return torch.stack([spread, torch.full_like(spread, 1e-9)], 1)


def test_contrast_reduction_reaches_the_grey_image(tiny):
    x = tiny["x"][:2]
    attack = ContrastReductionAttack(steps=20)
    raw, _, success = attack(foolbox_model(_GreyOnly()), x, torch.zeros(2, dtype=torch.long), epsilons=None)
    assert success.all()
    assert (raw == 0.5).all()
    assert (attack.stats.found == 1.0).all() and np.allclose(attack.stats.lower, 0.95)


# --- G2 PGD / G4 BIM ε search ----------------------------------------------------------------


def foolbox1_epsilons(fools, epsilon: float, k_growth: int, k_bisect: int) -> tuple[list[float], int]:
    """The ε values Foolbox 1.x's ``_run_binary_search`` tries, and how many of them grew ε."""
    tried = []
    for _ in range(k_growth):
        tried.append(epsilon)
        if fools(epsilon):
            break
        epsilon = epsilon * 1.5
    else:
        return tried, len(tried)
    grown = len(tried)
    bad, good = 0, epsilon
    for _ in range(k_bisect):
        epsilon = (good + bad) / 2
        tried.append(epsilon)
        if fools(epsilon):
            good = epsilon
        else:
            bad = epsilon
    return tried, grown


def _spy_on_run_at(monkeypatch, attack) -> dict[int, list[float]]:
    log = defaultdict(list)
    real = attack.run_at

    def spy(model, x0, y, eps, rows):
        for r, e in zip(rows, eps.tolist()):
            log[int(r)].append(e)
        return real(model, x0, y, eps, rows)

    monkeypatch.setattr(attack, "run_at", spy)
    return log


@pytest.mark.parametrize("epsilon, needs_growth", [(0.002, True), (0.5, False)], ids=["grows", "first-eps"])
def test_iterative_search_tries_foolbox1s_epsilons(tiny, monkeypatch, epsilon, needs_growth):
    fmodel, x, y = tiny["fmodel"], tiny["x"][:4], tiny["y"][:4]
    params = dict(epsilon=epsilon, rel_stepsize=0.05 / 0.3, iterations=10, binary_search_steps=6, growth_tries=20)
    attack = IterativeLinfAttack(**params)
    log = _spy_on_run_at(monkeypatch, attack)
    _, _, success = attack(fmodel, x, y, epsilons=None)
    assert success.all()
    oracle = IterativeLinfAttack(**params)
    oracle.stats = AttackStats.empty(len(x))
    for i in range(len(x)):
        def fools(e, i=i):
            one = slice(i, i + 1)
            return bool(oracle.run_at(fmodel, x[one], y[one], torch.tensor([e], dtype=x.dtype), np.array([i]))[1])

        expected, grown = foolbox1_epsilons(fools, epsilon, 20, 6)
        assert np.array_equal(np.float32(log[i]), np.float32(expected))
        assert (grown > 1) if needs_growth else (grown == 1)
        failed = [e for e in expected if not fools(e)]
        assert attack.stats.lower[i] == (max(failed) if failed else 0.0)
        assert attack.stats.found[i] == min(e for e in expected if fools(e))


class _Stubborn(torch.nn.Module):
    """Always class 0, whatever the input, yet differentiable in it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = 0 * x.flatten(1).sum(1)
        return torch.stack([z + 5, z], 1)


def test_iterative_search_gives_up_after_growth_tries_epsilons(tiny, monkeypatch):
    x = tiny["x"][:2]
    attack = IterativeLinfAttack(epsilon=0.01, iterations=2, binary_search_steps=3, growth_tries=4)
    log = _spy_on_run_at(monkeypatch, attack)
    raw, _, success = attack(foolbox_model(_Stubborn()), x, torch.zeros(2, dtype=torch.long), epsilons=None)
    assert not success.any() and torch.equal(raw, x)
    for i in range(2):  # 1.x's ``for i in range(k)``: k values, the last 1.5**(k-1)·ε, no bisection
        assert np.allclose(log[i], [0.01, 0.015, 0.0225, 0.03375])
    assert np.isnan(attack.stats.found).all() and np.isnan(attack.stats.lower).all()


def test_bim_pgd_and_configs_name_growth_tries():
    for cls in (BIM, PGD):
        assert cls().growth_tries == 20 and cls().binary_search_steps == 20
        with pytest.raises(TypeError):
            cls(max_growth=20)
    for name in ("pgd", "bim"):
        config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
        assert "max_growth" not in config["paper"] and config["paper"]["growth_tries"] == 20
        params = {k: v for k, v in config["paper"].items() if k != "images"}
        assert create_attack(name, **params).growth_tries == 20


# --- randomness keyed by (seed, image key) ---------------------------------------------------

KEYED = {
    "gaussian_noise": lambda: AdditiveGaussianNoiseAttack(steps=40),
    "single_pixel": lambda: SinglePixelAttack(max_pixels=64),
    "local_search": lambda: LocalSearchAttack(R=6),
    "pgd_random_start": lambda: IterativeLinfAttack(epsilon=0.05, iterations=3, binary_search_steps=3,
                                                    growth_tries=6, random_start=True),
}


def test_image_key_is_a_stable_63_bit_hash():
    key = image_key("00000013_005.png")
    assert key == int.from_bytes(hashlib.sha256(b"00000013_005.png").digest()[:8], "big") >> 1
    assert 0 <= key < 2 ** 63 and key != image_key("00000013_006.png")


def _run(attack, tiny, index, keys):
    raw, _, _ = attack(tiny["fmodel"], tiny["x"][index], tiny["y"][index], epsilons=None, keys=keys)
    return raw, attack.stats


@pytest.mark.parametrize("name", sorted(KEYED))
def test_keyed_randomness_does_not_depend_on_batching(tiny, name):
    keys = np.array([image_key(f"img{i}") for i in range(10)])
    whole, stats = _run(KEYED[name](), tiny, slice(None), keys)
    assert (stats.attacked & ~np.isnan(stats.found)).sum() >= 2, "too few fooled to compare anything"
    first, s1 = _run(KEYED[name](), tiny, slice(0, 5), keys[:5])
    second, s2 = _run(KEYED[name](), tiny, slice(5, 10), keys[5:])
    assert torch.equal(whole, torch.cat([first, second]))
    assert np.array_equal(stats.queries, np.concatenate([s1.queries, s2.queries]))
    backwards, _ = _run(KEYED[name](), tiny, list(range(9, -1, -1)), keys[::-1])
    assert torch.equal(whole, backwards.flip(0))


@pytest.mark.parametrize("name", sorted(KEYED))
def test_same_key_same_draws_different_key_different_draws(tiny, name):
    stats = _run(KEYED[name](), tiny, slice(None), None)[1]
    i = int(np.flatnonzero(~np.isnan(stats.found))[0])  # an image this attack fools
    twice = [i, i]
    same, _ = _run(KEYED[name](), tiny, twice, np.array([7, 7]))
    assert torch.equal(same[0], same[1])
    outcomes = set()
    for key in range(2, 8):  # different keys: different noise / pixel orders / locations
        raw, _ = _run(KEYED[name](), tiny, twice, np.array([key, key + 100]))
        outcomes.update({raw[0].numpy().tobytes(), raw[1].numpy().tobytes()})
    assert len(outcomes) > 1


def test_keys_must_be_one_non_negative_integer_per_sample(tiny):
    attack = SinglePixelAttack(max_pixels=4)
    for bad in (np.array([1, 2]), np.arange(10) - 1, np.linspace(0, 1, 10)):
        with pytest.raises(ValueError, match="keys"):
            attack(tiny["fmodel"], tiny["x"], tiny["y"], epsilons=None, keys=bad)


def test_noise_fields_are_keyed_by_image_and_grid_step():
    bounds = type("M", (), {"bounds": fb.types.Bounds(0.0, 1.0)})()
    attack = AdditiveGaussianNoiseAttack(steps=10)
    x = torch.full((3, 1, 8, 8), 0.5)
    eps = torch.tensor([0.5, 0.5, 0.5])
    noise = attack.perturb(x, eps, torch.tensor([image_key("a"), image_key("a"), image_key("b")]), bounds) - x
    assert torch.equal(noise[0], noise[1]) and not torch.equal(noise[0], noise[2])
    other_step = attack.perturb(x[:1], torch.tensor([0.6]), torch.tensor([image_key("a")]), bounds) - x[:1]
    assert not torch.allclose(other_step[0] / 0.6 ** 2, noise[0] / 0.5 ** 2)


# --- L-BFGS: one worker computes at a time ---------------------------------------------------


def test_lbfgs_workers_compute_one_at_a_time(tiny, monkeypatch):
    """Between two oracle requests a worker computes; no two workers' computing spans overlap."""
    spans, last_exit = [], {}
    real_request = lbfgs_module._LockstepOracle.request
    real_ce = lbfgs_module.F.cross_entropy

    def request(self, *args):
        me = threading.get_ident()
        if me in last_exit:
            spans.append((last_exit[me], time.perf_counter(), me))
        answer = real_request(self, *args)
        last_exit[me] = time.perf_counter()
        return answer

    def slow_cross_entropy(*args, **kwargs):
        time.sleep(0.002)  # widen each computing span so unserialised workers would overlap
        return real_ce(*args, **kwargs)

    monkeypatch.setattr(lbfgs_module._LockstepOracle, "request", request)
    monkeypatch.setattr(lbfgs_module, "F", types.SimpleNamespace(cross_entropy=slow_cross_entropy))
    LBFGSAttack(maxiter=3, max_doublings=2, max_bisections=0)(tiny["fmodel"], tiny["x"][:4], tiny["y"][:4],
                                                               epsilons=None)
    spans.sort()
    assert len({s[2] for s in spans}) == 4 and len(spans) >= 20
    for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
        assert start >= end


def test_lbfgs_is_bit_reproducible_under_cpu_load(tiny):
    stop = threading.Event()

    def hog():  # numpy (OpenBLAS) and torch matmuls competing with the attack's threads
        a, t = np.random.default_rng(0).standard_normal((160, 160)), torch.randn(160, 160)
        while not stop.is_set():
            a @ a
            t @ t

    x, y = tiny["x"][:4], tiny["y"][:4]
    background = threading.Thread(target=hog, daemon=True)
    background.start()
    try:
        runs = [LBFGSAttack(maxiter=5, max_bisections=2)(tiny["fmodel"], x, y, epsilons=None)[0] for _ in range(3)]
    finally:
        stop.set()
        background.join()
    assert not torch.equal(runs[0], x)
    assert all(torch.equal(runs[0], other) for other in runs[1:])


# --- weakening parameters and public helpers -------------------------------------------------


def test_weakening_names_the_parameters_whose_reduction_weakens_the_attack():
    assert LocalSearchAttack.weakening == ("R",)
    assert SinglePixelAttack.weakening == ("max_pixels",)
    assert AdditiveGaussianNoiseAttack.weakening == ("steps",)
    for cls in (FGSM, PGD, BIM, IterativeLinfAttack, DeepFool, LBFGSAttack, GaussianBlurAttack,
                ContrastReductionAttack):
        assert cls.weakening == ()


def test_counted_model_is_public_and_counts_calls(tiny):
    from cxrbench.attacks.deepfool import CountedModel

    counted = CountedModel(tiny["fmodel"])
    x = tiny["x"][:2]
    counted(x)
    counted(x.clone().requires_grad_(True))
    assert (counted.calls, counted.gradient_calls) == (2, 1) and counted.bounds == tiny["fmodel"].bounds
