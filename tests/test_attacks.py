"""Attack logic on a tiny CNN: minimal-perturbation semantics, accounting, Foolbox cross-checks."""
import foolbox as fb
import numpy as np
import pytest
import torch

from tiny_models import blob_images, foolbox_model, trained_tiny_cnn

from cxrbench.attacks.base import AttackStats
from cxrbench.attacks.decision import AdditiveGaussianNoiseAttack, ContrastReductionAttack, GaussianBlurAttack
from cxrbench.attacks.deepfool import DeepFool
from cxrbench.attacks.gradient import FGSM, IterativeLinfAttack

BIM = dict(rel_stepsize=0.05 / 0.3, iterations=10, binary_search_steps=12)
PGD = dict(rel_stepsize=0.01 / 0.3, iterations=20, binary_search_steps=12)
ATTACKS = {
    "fgsm": lambda: FGSM(steps=200),
    "bim": lambda: IterativeLinfAttack(**BIM),
    "pgd": lambda: IterativeLinfAttack(**PGD),
    "deepfool": lambda: DeepFool(steps=50),
    "blur": lambda: GaussianBlurAttack(steps=100),
    "contrast": lambda: ContrastReductionAttack(steps=100),
    "noise": lambda: AdditiveGaussianNoiseAttack(steps=100),
}


@pytest.fixture(scope="module")
def setup():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: threads only add start-up overhead
    torch.manual_seed(0)
    model = trained_tiny_cnn()
    x, y = blob_images(12, seed=7)
    y[:2] = 1 - y[:2]  # two samples the model gets wrong: they must not be attacked
    yield foolbox_model(model), x, y
    torch.set_num_threads(previous)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_success_means_fooled_within_bounds_and_failure_means_unchanged(setup, name):
    fmodel, x, y = setup
    attack = ATTACKS[name]()
    raw, _, success = attack(fmodel, x, y, epsilons=None)
    stats = attack.stats
    pred = fmodel(raw).argmax(1)
    assert raw.min() >= 0 and raw.max() <= 1
    assert torch.equal(success, pred != y)
    assert not stats.attacked[:2].any() and stats.attacked[2:].all()
    assert torch.equal(raw[:2], x[:2]) and (stats.queries[:2] == 1).all() and (stats.gradients[:2] == 0).all()
    attacked = torch.as_tensor(stats.attacked)
    fooled_by_attack = success & attacked
    assert fooled_by_attack.sum() >= 3, f"{name} fooled too few samples to test anything"
    assert torch.equal(raw[attacked & ~success], x[attacked & ~success])
    assert np.isfinite(stats.found[fooled_by_attack.numpy()]).all()
    assert np.isnan(stats.found[(attacked & ~success).numpy()]).all()
    if attack.needs != "gradients":
        assert (stats.gradients == 0).all()


def test_fgsm_found_epsilon_fools_and_the_grid_point_below_does_not(setup):
    fmodel, x, y = setup
    attack = FGSM(steps=200)
    raw, _, success = attack(fmodel, x, y, epsilons=None)
    xr = x.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(fmodel._model(xr), y, reduction="sum")
    direction = torch.autograd.grad(loss, xr)[0].sign()
    checked = 0
    for i in np.flatnonzero(success.numpy() & attack.stats.attacked):
        at = (x[i] + attack.stats.found[i] * direction[i]).clamp(0, 1)
        below = (x[i] + attack.stats.lower[i] * direction[i]).clamp(0, 1)
        assert fmodel(at[None]).argmax(1).item() != y[i].item()
        assert fmodel(below[None]).argmax(1).item() == y[i].item()
        assert attack.stats.found[i] - attack.stats.lower[i] <= 1 / 200 + 1e-9
        assert torch.allclose(raw[i], at)
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("params", [BIM, PGD], ids=["bim", "pgd"])
def test_iterative_found_epsilon_fools_and_the_bracket_below_does_not(setup, params):
    fmodel, x, y = setup
    attack = IterativeLinfAttack(**params)
    _, _, success = attack(fmodel, x, y, epsilons=None)
    rows = np.flatnonzero(success.numpy() & attack.stats.attacked)
    assert len(rows) >= 3
    idx = torch.as_tensor(rows)
    found = torch.as_tensor(attack.stats.found[rows], dtype=x.dtype)
    lower = torch.as_tensor(attack.stats.lower[rows], dtype=x.dtype)
    # Bisection from 0 (Foolbox 1.x) halves [0, first fooling ε] 12 times; lower is the largest
    # failing ε, which lies within that last interval or above it.
    assert (found - lower <= 0.3 * 1.5 ** 3 / 2 ** 12).all()
    _, fooled_at = attack.run_at(fmodel, x[idx], y[idx], found, rows)
    _, fooled_below = attack.run_at(fmodel, x[idx], y[idx], lower, rows)
    assert fooled_at.all() and not fooled_below.any()


def test_iterative_attack_agrees_with_foolbox_linf_pgd_at_a_fixed_epsilon(setup):
    """Independent cross-check: one run at fixed ε vs Foolbox's LinfPGD (no random start)."""
    fmodel, x, y = setup
    eps, steps, rel = 0.08, 20, 0.01 / 0.3
    ours = IterativeLinfAttack(rel_stepsize=rel, iterations=steps)
    ours.stats = AttackStats.empty(len(x))
    _, fooled = ours.run_at(fmodel, x, y, torch.full((len(x),), eps), np.arange(len(x)))
    theirs = fb.attacks.LinfPGD(rel_stepsize=rel, steps=steps, random_start=False)
    _, _, success = theirs(fmodel, x, y, epsilons=eps)
    # Foolbox keeps stepping after success, ours returns early: both must fool the same samples
    # unless a later step undid an earlier success, which with sign steps inside a small ball
    # does not happen on this model.
    assert torch.equal(fooled, success)
    assert 0 < int(success.sum()) < len(x)


@pytest.mark.parametrize("ours, theirs", [
    (lambda: GaussianBlurAttack(steps=100), lambda: fb.attacks.GaussianBlurAttack(steps=100)),
    (lambda: ContrastReductionAttack(steps=100),
     lambda: fb.attacks.LinearSearchContrastReductionAttack(steps=100)),
], ids=["blur", "contrast"])
def test_line_searches_match_foolbox_3(setup, ours, theirs):
    # Contrast: ours walks Foolbox 1.x's 1/steps … 1, Foolbox 3 walks 0 … (steps-1)/steps; the
    # grids share every point but 0 and 1, so first hits agree unless only the grey image fools.
    fmodel, x, y = setup
    keep = y == fmodel(x).argmax(1)  # Foolbox attacks misclassified samples too; compare the rest
    a, b = ours(), theirs()
    raw_a, _, success_a = a(fmodel, x[keep], y[keep], epsilons=None)
    raw_b, _, success_b = b(fmodel, x[keep], y[keep], epsilons=None)
    assert torch.equal(success_a, success_b) and success_a.any()
    assert torch.allclose(raw_a[success_a], raw_b[success_b], atol=1e-5)


def test_line_search_counts_like_the_sequential_walk_whatever_the_chunk(setup):
    fmodel, x, y = setup
    one, many = GaussianBlurAttack(steps=60, chunk=1), GaussianBlurAttack(steps=60, chunk=7, batch_size=5)
    raw1, _, s1 = one(fmodel, x, y, epsilons=None)
    raw2, _, s2 = many(fmodel, x, y, epsilons=None)
    assert torch.equal(raw1, raw2) and torch.equal(s1, s2)
    assert np.array_equal(one.stats.queries, many.stats.queries)
    assert (one.stats.queries <= 60 + 1).all()


def test_noise_schedule_foolbox1_scales_twice():
    lo_hi = type("M", (), {"bounds": fb.types.Bounds(0.0, 1.0)})()
    x = torch.full((1, 1, 64, 64), 0.5)
    eps = torch.tensor([0.5])
    keys = torch.tensor([0])  # the per-sample state is the image key that seeds the noise
    old = AdditiveGaussianNoiseAttack(steps=10).perturb(x, eps, keys, lo_hi) - x
    new = AdditiveGaussianNoiseAttack(steps=10, schedule="corrected").perturb(x, eps, keys, lo_hi) - x
    assert torch.allclose(old, new * 0.5, atol=1e-6)  # same draw, one extra factor ε
    assert abs(new.std().item() - 0.5 / 3 ** 0.5) < 0.02


def test_repr_names_the_parameters():
    text = repr(IterativeLinfAttack(iterations=7))
    assert text.startswith("IterativeLinfAttack(") and "iterations=7" in text and "stats" not in text


def test_registry_holds_the_ten_paper_attacks_in_table_order_then_apgd():
    from cxrbench.attacks import get_attack_spec, list_attacks

    paper = ["fgsm", "pgd", "deepfool", "bim", "lbfgs", "gaussian_blur", "contrast_reduction", "gaussian_noise",
             "local_search", "single_pixel"]
    assert list_attacks(paper_only=True) == paper and list_attacks() == paper + ["apgd"]
    ids = [get_attack_spec(name).paper_id for name in list_attacks(paper_only=True)]
    assert ids == ["G1", "G2", "G3", "G4", "G5", "D1", "D2", "D3", "S1", "S2"]
    assert list_attacks("score") == ["local_search", "single_pixel"]
    assert get_attack_spec("gaussian_blur").needs == "labels" and get_attack_spec("lbfgs").family == "gradient"
    pgd, bim = get_attack_spec("pgd").builder(), get_attack_spec("bim").builder()
    assert (pgd.iterations, round(pgd.rel_stepsize * 0.3, 6)) == (40, 0.01)
    assert (bim.iterations, round(bim.rel_stepsize * 0.3, 6)) == (10, 0.05)


def test_unknown_attack_or_parameter_is_one_clear_error():
    from cxrbench.attacks import create_attack
    from cxrbench.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown attack 'pgdd'; choose one of: fgsm, pgd, deepfool"):
        create_attack("pgdd")
    with pytest.raises(ConfigError, match="bad parameters for attack 'pgd'.*valid parameters: epsilon"):
        create_attack("pgd", iterationz=3)
