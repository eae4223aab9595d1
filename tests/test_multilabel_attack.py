"""Multi-label PGD through Foolbox 3: criteria by hand, losses move the output the right way, budgets from one run."""
import foolbox as fb
import pytest
import torch
import torch.nn as nn

from cxrbench.attacks.multilabel import LOSSES, MultiLabelMisclassification, MultiLabelPGD, MultiLabelTarget
from cxrbench.errors import ConfigError

LABELS = 4


def tiny_multilabel() -> fb.PyTorchModel:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                        nn.Linear(24, LABELS)).eval()
    return fb.PyTorchModel(net, bounds=(0.0, 1.0))


def images(n: int = 6) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def test_criteria_by_hand():
    logits = torch.tensor([[2.0, -2.0, 0.0], [-2.0, -2.0, 2.0]])  # probs ~.88 .12 .5 / .12 .12 .88
    thresholds = torch.tensor([0.5, 0.5, 0.6])
    clean = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    untargeted = MultiLabelMisclassification(clean, thresholds)
    assert untargeted(None, logits).tolist() == [False, True]  # label 2: 0.5 < 0.6 stays off; 0.88 switches on
    target = MultiLabelTarget(torch.tensor([[0.9, 0.2, 0.4], [0.0, 0.0, 1.0]]), thresholds)
    assert target(None, logits).tolist() == [True, True]
    assert MultiLabelTarget(torch.tensor([[0.0, 0.0, 0.0]] * 2), thresholds)(None, logits).tolist() == [False, False]


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_budgets_of_one_run_equal_separate_runs(loss):
    model, x = tiny_multilabel(), images()
    clean = (torch.sigmoid(model(x)) >= 0.5).float()
    criterion = MultiLabelMisclassification(clean, torch.full((LABELS,), 0.5))
    eps = 0.05
    snapshots = MultiLabelPGD(loss=loss).run_steps(model, x, criterion, epsilon=eps, steps=[5, 1, 3])
    assert sorted(snapshots) == [1, 3, 5]
    for k, adv in snapshots.items():
        alone = MultiLabelPGD(loss=loss, steps=k).run(model, x, criterion, epsilon=eps)
        assert torch.equal(adv, alone)
        assert (adv - x).abs().max() <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1


def test_untargeted_bce_pushes_the_output_away_from_the_clean_prediction():
    model, x = tiny_multilabel(), images()
    logits = model(x)
    clean = (torch.sigmoid(logits) >= 0.5).float()
    criterion = MultiLabelMisclassification(clean, torch.full((LABELS,), 0.5))
    adv = MultiLabelPGD(loss="bce", steps=20).run(model, x, criterion, epsilon=0.3)
    before, after = LOSSES["bce"](logits, clean), LOSSES["bce"](model(adv), clean)
    assert torch.all(after > before)
    # Through Foolbox's own call: the criterion decides success at the given ε.
    _, clipped, success = MultiLabelPGD(loss="bce", steps=20)(model, x, criterion, epsilons=[0.0, 0.3])
    assert not success[0].any() and torch.equal(success[1], criterion(clipped[1], model(clipped[1])))


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_targeted_losses_pull_the_output_towards_the_target(loss):
    model, x = tiny_multilabel(), images()
    target = torch.tensor([[1.0, 0.0, 0.75, 0.25]]).expand(len(x), -1)
    criterion = MultiLabelTarget(target, torch.full((LABELS,), 0.5))
    adv = MultiLabelPGD(loss=loss, steps=20).run(model, x, criterion, epsilon=0.3)
    assert torch.all(LOSSES[loss](model(adv), target) < LOSSES[loss](model(x), target))


def test_bad_parameters_and_repr():
    with pytest.raises(ConfigError, match="unknown multi-label loss 'l1'; choose one of: bce, mse, ordinal"):
        MultiLabelPGD(loss="l1")
    with pytest.raises(ConfigError, match="larger than ε"):
        MultiLabelPGD(rel_stepsize=2.5)
    assert repr(MultiLabelPGD(loss="ordinal", steps=25)) == \
        "MultiLabelPGD(loss='ordinal', steps=25, rel_stepsize=0.25, random_start=False)"
