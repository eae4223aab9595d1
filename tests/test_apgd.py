"""APGD-CE (pyautoattack) as the eleventh attack: budget, per-sample ε, keyed starts, strength, refusals."""
import numpy as np
import pytest
import torch
from pyautoattack.autopgd_base import APGDAttack

from tiny_models import blob_images, foolbox_model, trained_tiny_cnn

from cxrbench.attacks import APGD, PGD, create_attack, get_attack_spec, list_attacks
from cxrbench.attacks.apgd import refuse_multiclass_component
from cxrbench.attacks.base import AttackStats
from cxrbench.errors import ConfigError


class CallCounter(torch.nn.Module):
    """Counts forward passes that build a graph (gradient passes) of the wrapped module."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.gradient_calls, self.calls = inner, 0, 0

    def forward(self, x):
        self.calls += 1
        self.gradient_calls += int(x.requires_grad)
        return self.inner(x)


@pytest.fixture(scope="module")
def setup():
    model = trained_tiny_cnn(seed=0)
    x, y = blob_images(10, seed=5)
    keep = model(x).argmax(1) == y
    return model, x[keep], y[keep]


def test_apgd_is_registered_as_an_eleventh_attack_outside_the_paper_grid():
    spec = get_attack_spec("apgd")
    assert spec.builder is APGD and spec.family == "gradient" and not spec.in_paper
    assert list_attacks()[-1] == "apgd" and "apgd" not in list_attacks(paper_only=True)
    attack = create_attack("apgd")
    assert (attack.n_iter, attack.n_restarts, attack.rho) == (100, 1, 0.75)  # AutoAttack's standard APGD-CE
    assert "n_iter=100" in repr(attack)


def test_one_run_takes_exactly_n_iter_plus_one_gradients(setup):
    model, x, y = setup
    counter = CallCounter(model)
    attack = APGD(n_iter=100)
    attack.run_fixed(foolbox_model(counter), x, y, 0.02)
    # the start point and 100 iterations: the library really runs 100 (some wrappers default to 10)
    assert counter.gradient_calls == 101
    assert (attack.stats.gradients == 101).all() and (attack.stats.queries == 101).all()


def test_per_sample_epsilon_equals_separate_runs_and_stays_in_its_ball(setup):
    model, x, y = setup
    fmodel = foolbox_model(model)
    eps = torch.tensor([0.05, 0.1, 0.15, 0.2] * 3)[: len(x)].to(x)
    keys = np.arange(100, 100 + len(x))
    together = APGD(n_iter=10)
    together.stats, together._keys = AttackStats.empty(len(x)), keys
    adv, fooled = together.run_at(fmodel, x, y, eps, np.arange(len(x)))
    for i in range(len(x)):
        alone = APGD(n_iter=10)
        alone.stats, alone._keys = AttackStats.empty(1), keys[i:i + 1]
        one, hit = alone.run_at(fmodel, x[i:i + 1], y[i:i + 1], eps[i:i + 1], np.array([0]))
        assert bool(hit[0]) == bool(fooled[i])
        torch.testing.assert_close(one[0], adv[i], atol=1e-6, rtol=0)
    linf = (adv - x).flatten(1).abs().amax(1)
    assert (linf <= eps + 1e-6).all() and fooled.any()


def test_random_start_depends_on_the_image_key_not_the_batch(setup):
    model, x, y = setup
    fmodel = foolbox_model(model)
    a, b = APGD(n_iter=5), APGD(n_iter=5)
    keys = np.arange(len(x)) + 7
    adv_a, _ = a.run_fixed(fmodel, x, y, 0.004, keys=keys)
    order = np.arange(len(x))[::-1].copy()
    adv_b, _ = b.run_fixed(fmodel, x[order], y[order], 0.004, keys=keys[order])
    torch.testing.assert_close(adv_a[order], adv_b, atol=1e-6, rtol=0)


def test_fixed_runs_match_the_library_given_the_same_start(setup):
    model, x, y = setup
    attack = APGD(n_iter=20)
    adv, fooled = attack.run_fixed(foolbox_model(model), x, y, 0.05, keys=np.arange(len(x)))
    start = attack._start(x, torch.full((len(x), 1, 1, 1), 0.05), np.arange(len(x)), [0.05] * len(x), 0)
    engine = APGDAttack(model, n_iter=20, norm="Linf", eps=0.05, loss="ce", rho=0.75, device=x.device)
    engine.init_hyperparam(x)
    _, robust, _, lib_adv = engine.attack_single_run(x, y, x_init=start)
    assert torch.equal(~robust.bool(), fooled)
    torch.testing.assert_close(adv[fooled], lib_adv[fooled], atol=1e-6, rtol=0)


def test_apgd_at_least_as_strong_as_pgd_at_the_same_budget_on_the_tiny_cnn(setup):
    model, x, y = setup
    fmodel = foolbox_model(model)
    fooled = []
    for eps in (0.1, 0.12, 0.15):
        _, pgd = PGD(iterations=50).run_fixed(fmodel, x, y, eps)
        _, apgd = APGD(n_iter=50).run_fixed(fmodel, x, y, eps)
        assert int(apgd.sum()) >= int(pgd.sum()), eps
        fooled.append(int(apgd.sum()))
    assert 0 < max(fooled)  # the comparison is not between two attacks that never succeed


def test_minimal_epsilon_search_brackets_the_boundary(setup):
    model, x, y = setup
    attack = APGD(epsilon=0.03, n_iter=10, binary_search_steps=4)
    adv = attack.run(foolbox_model(model), x, y)
    found = attack.stats.found
    assert np.isfinite(found).all()
    linf = (adv - x).flatten(1).abs().amax(1).numpy()
    assert (linf <= found + 1e-6).all()


@pytest.mark.parametrize("component, classes, ok", [("apgd-dlr", 2, False), ("apgd-t", 2, False),
                                                     ("fab-t", 3, False), ("apgd-ce", 2, True),
                                                     ("apgd-dlr", 14, True)])
def test_components_needing_more_classes_are_refused_with_the_reason(component, classes, ok):
    if ok:
        refuse_multiclass_component(component, classes)
        return
    with pytest.raises(ConfigError, match=f"{component} needs at least .* classes and this task has {classes}"):
        refuse_multiclass_component(component, classes)
