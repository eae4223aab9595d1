"""The Foolbox 1.x ports G5 (L-BFGS), S1 (local search) and S2 (single pixel) on a tiny CNN."""
from __future__ import annotations

import math

import foolbox as fb
import numpy as np
import pytest
import scipy.optimize
import torch

from cxrbench.attacks.lbfgs import LBFGSAttack
from cxrbench.attacks.local_search import MAX_LOCATIONS, LocalSearchAttack
from cxrbench.attacks.single_pixel import SinglePixelAttack
from tiny_models import blob_images, foolbox_model, trained_tiny_cnn

ATTACKS = {
    "lbfgs": lambda: LBFGSAttack(maxiter=10),
    "local_search": lambda: LocalSearchAttack(R=20),
    "single_pixel": lambda: SinglePixelAttack(max_pixels=256),
}


@pytest.fixture(scope="module")
def setup():
    """Model, borderline images, labels with sample 0 mislabelled (so already misclassified).

    The tiny CNN shrugs off single pixels on ordinary blob images, so the images are blends of a
    plain and a blob image just either side of the decision boundary: some samples fall to every
    attack and some resist single pixels.
    """
    threads = torch.get_num_threads()
    # One sample per autograd call: thread start-up costs far more than it saves on a busy CPU.
    torch.set_num_threads(1)
    model = trained_tiny_cnn()
    fmodel = foolbox_model(model)
    x, y = blob_images(6, seed=5)
    plain, blob = x[y == 0], x[y == 1]
    lo, hi = torch.zeros(len(plain)), torch.ones(len(plain))
    with torch.no_grad():
        for _ in range(20):
            mid = (lo + hi) / 2
            is_blob = model(torch.lerp(plain, blob, mid.view(-1, 1, 1, 1))).argmax(1) == 1
            hi, lo = torch.where(is_blob, mid, hi), torch.where(is_blob, lo, mid)
        alpha = torch.cat([mid - 0.2, mid + 0.2]).clamp(0, 1).view(-1, 1, 1, 1)
        x = torch.lerp(torch.cat([plain, plain]), torch.cat([blob, blob]), alpha)
        y = model(x).argmax(1)
    assert (y == torch.tensor([0, 0, 0, 1, 1, 1])).all()
    y_bad = y.clone()
    y_bad[0] = 1 - y_bad[0]
    yield {"model": model, "fmodel": fmodel, "x": x, "y": y_bad}
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def runs(setup):
    """Each attack run once through Foolbox's own API, on demand."""
    done = {}

    def get(name):
        if name not in done:
            attack = ATTACKS[name]()
            raw, _, success = attack(setup["fmodel"], setup["x"], setup["y"], epsilons=None)
            done[name] = attack, raw, success
        return done[name]

    return get


@pytest.mark.parametrize("name", list(ATTACKS))
def test_reported_success_is_real_and_failure_returns_input(setup, runs, name):
    attack, raw, success = runs(name)
    x, y = setup["x"], setup["y"]
    assert raw.min() >= 0 and raw.max() <= 1
    with torch.no_grad():
        pred = setup["model"](raw).argmax(1)
    assert torch.equal(success, pred != y)
    if name == "single_pixel":  # the borderline data must exercise the unfooled branch too
        assert (~success).any()
    for i in range(len(x)):
        if not success[i]:
            assert torch.equal(raw[i], x[i])
            assert math.isnan(attack.stats.found[i])
    fooled = attack.stats.attacked & success.numpy()
    assert fooled.sum() >= 2
    assert np.isfinite(attack.stats.found[fooled]).all()


@pytest.mark.parametrize("name", list(ATTACKS))
def test_misclassified_sample_is_not_attacked(setup, runs, name):
    attack, raw, _ = runs(name)
    assert torch.equal(raw[0], setup["x"][0])
    assert not attack.stats.attacked[0] and attack.stats.attacked[1:].all()
    assert attack.stats.queries[0] == 1 and attack.stats.gradients[0] == 0
    assert math.isnan(attack.stats.found[0])
    assert (attack.stats.queries[1:] > 1).all()


def test_lbfgs_uses_scipy_and_c_search(setup, monkeypatch):
    calls = []
    real = scipy.optimize.fmin_l_bfgs_b

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.optimize, "fmin_l_bfgs_b", counting)
    attack = LBFGSAttack(maxiter=5, max_bisections=0)
    raw, _, success = attack(setup["fmodel"], setup["x"][:3], setup["y"][:3], epsilons=None)
    fooled = success.numpy() & attack.stats.attacked[:3]
    assert fooled.sum() >= 1
    assert len(calls) >= 2 and all(c["m"] == 15 and c["maxiter"] == 5 for c in calls)
    found = attack.stats.found[fooled]
    assert (found >= attack.epsilon).all()
    # No bisection: the winning c is one of the doubled values ε·2^k.
    assert np.allclose(np.log2(found / attack.epsilon), np.round(np.log2(found / attack.epsilon)))
    assert (attack.stats.gradients[1:3] > 0).all()


def test_lbfgs_batches_the_per_sample_optimisers(setup):
    """Per-sample L-BFGS-B runs share model calls: far fewer forwards than images sent through."""
    calls = {"n": 0}

    class Counted(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            calls["n"] += 1
            return self.inner(x)

    attack = LBFGSAttack(maxiter=5, max_bisections=2)
    x, y = setup["x"][1:], setup["y"][1:]
    raw, _, success = attack(foolbox_model(Counted(setup["model"]).eval()), x, y, epsilons=None)
    queries = attack.stats.queries
    assert success.sum() >= 2
    # Lockstep: model calls are bounded by the busiest sample's calls (plus the clean and
    # target-picking forwards, and one extra per batch that mixes gradient and test requests).
    assert calls["n"] < queries.sum() / 2
    assert calls["n"] <= 2 * queries.max() + 2


def test_lbfgs_error_in_a_batched_call_is_raised_not_hung(setup):
    class Broken(torch.nn.Module):
        def forward(self, x):
            if x.requires_grad:
                raise RuntimeError("model exploded")
            return setup["model"](x)

    with pytest.raises(RuntimeError, match="model exploded"):
        LBFGSAttack(maxiter=3)(foolbox_model(Broken().eval()), setup["x"][1:], setup["y"][1:], epsilons=None)


class _Stubborn(torch.nn.Module):
    """Always class 0, whatever the input, yet differentiable in it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = 0 * x.flatten(1).sum(1)
        return torch.stack([z + 5, z], 1)


def test_lbfgs_gives_up_with_input_unchanged(setup):
    attack = LBFGSAttack(maxiter=3, max_doublings=2)
    x = setup["x"][:2]
    raw, _, success = attack(foolbox_model(_Stubborn()), x, torch.zeros(2, dtype=torch.long), epsilons=None)
    assert not success.any()
    assert torch.equal(raw, x)
    assert np.isnan(attack.stats.found).all()
    # clean + target forwards, then per c at least one evaluation and the final check
    assert (attack.stats.queries >= 2 + 2 * 2).all() and (attack.stats.gradients >= 2).all()


def test_local_search_budget_and_l0(setup, runs):
    attack, raw, success = runs("local_search")
    assert (attack.stats.queries <= 1 + attack.R * (MAX_LOCATIONS + 1)).all()
    changed = (raw != setup["x"]).any(1).flatten(1).sum(1).numpy()
    fooled = success.numpy() & attack.stats.attacked
    assert np.array_equal(attack.stats.found[fooled], changed[fooled])
    short = LocalSearchAttack(R=1)
    short(setup["fmodel"], setup["x"], setup["y"], epsilons=None)
    start = min(int(0.1 * 16 * 16), MAX_LOCATIONS)
    assert (short.stats.queries[1:] == 1 + start + 1).all()


def test_local_search_is_seeded(setup, runs):
    attack, raw, _ = runs("local_search")
    again = LocalSearchAttack(R=20)
    raw2, _, _ = again(setup["fmodel"], setup["x"], setup["y"], epsilons=None)
    assert torch.equal(raw, raw2)
    assert np.array_equal(attack.stats.queries, again.stats.queries)
    # Another run seed draws other start pixels and subsets, so the search goes elsewhere.
    other = LocalSearchAttack(R=20, seed=1)
    raw3, _, _ = other(setup["fmodel"], setup["x"], setup["y"], epsilons=None)
    assert not torch.equal(raw, raw3)


def test_single_pixel_budget_and_perturbation(setup, runs):
    attack, raw, success = runs("single_pixel")
    attacked = attack.stats.attacked
    assert (attack.stats.queries <= 1 + 2 * attack.max_pixels).all()
    unfooled = attacked & ~success.numpy()
    assert (attack.stats.queries[unfooled] == 1 + 2 * attack.max_pixels).all()
    for i in np.flatnonzero(attacked & success.numpy()):
        diff = (raw[i] != setup["x"][i]).any(0)
        assert diff.sum() == 1
        values = raw[i][:, diff]
        assert (values == 0).all() or (values == 1).all()
    assert (attack.forwarded[attacked] >= attack.stats.queries[attacked] - 1).all()


def test_single_pixel_batched_equals_sequential(setup, runs):
    batched, raw, _ = runs("single_pixel")
    for size in (1, 7, 4096):  # 4096: every candidate of a sample in one forward
        other = SinglePixelAttack(max_pixels=256, batch_size=size)
        raw_other, _, _ = other(setup["fmodel"], setup["x"], setup["y"], epsilons=None)
        assert torch.equal(raw, raw_other)
        assert np.array_equal(batched.stats.queries, other.stats.queries)
        assert np.array_equal(batched.stats.found, other.stats.found, equal_nan=True)
        if size == 1:  # one candidate per forward: nothing is forwarded beyond the first success
            assert np.array_equal(other.forwarded, other.stats.queries - 1)


def test_repr_and_contract():
    lb = LBFGSAttack(maxiter=7, max_bisections=3)
    assert "maxiter=7" in repr(lb) and "max_bisections=3" in repr(lb) and "epsilon=1e-05" in repr(lb)
    ls = LocalSearchAttack(R=9, seed=4)
    assert all(s in repr(ls) for s in ("R=9", "seed=4", "r=1.5", "p=10.0", "d=5", "t=5"))
    sp = SinglePixelAttack(max_pixels=12, batch_size=3)
    assert "max_pixels=12" in repr(sp) and "batch_size=3" in repr(sp) and "forwarded" not in repr(sp)
    assert (lb.needs, ls.needs, sp.needs) == ("gradients", "scores", "labels")
    assert lb.distance is fb.distances.l2 and ls.distance is sp.distance is fb.distances.l0
    with pytest.raises(TypeError):
        LBFGSAttack(1e-5)
