"""Issue 21, point 1: the untargeted multi-label attack moves away from what k-robust accuracy scores against.

A 4-label linear toy on synthetic inputs: finding j is present when input feature j exceeds 0.5,
and the model is a weak ranker (random weights with the feature of each label wired in reverse),
so its thresholded prediction misses findings and calls absent labels present. Ascending BCE away
from that prediction raises the missed findings, so its k-robust accuracy *rises* under attack;
away from the ground truth it never does (beyond one image, the tolerance of the issue).
"""
import numpy as np
import pytest
import torch
import torch.nn as nn

import foolbox as fb

from conftest import CONFIGS, compose_config

from cxrbench.attacks.multilabel import (LOSSES, MultiLabelMisclassification, MultiLabelPGD, MultiLabelTarget,
                                         topk_margin, untargeted_reference)
from cxrbench.errors import ConfigError
from cxrbench.evaluation.multilabel import k_accuracy

LABELS, FEATURES, IMAGES = 4, 8, 32
EPSILONS = (0.5, 1, 2, 4, 8, 16, 32, 64)   # /255: the paper's grid and well beyond it
BUDGETS = [1, 5, 10, 25, 50]               # their step grid


def weak_ranker(seed: int = 2) -> tuple[fb.PyTorchModel, nn.Module, torch.Tensor, np.ndarray]:
    """The toy model (Foolbox and torch), its inputs and their findings (feature j > 0.5)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(IMAGES, FEATURES, generator=g)
    net = nn.Linear(FEATURES, LABELS)
    with torch.no_grad():
        net.weight.copy_(torch.randn(LABELS, FEATURES, generator=g))
        net.weight[:, :LABELS] -= 2 * torch.eye(LABELS)
        net.bias.zero_()
    return fb.PyTorchModel(net.eval(), bounds=(0.0, 1.0)), net, x, (x[:, :LABELS] > 0.5).numpy().astype(int)


def robust_accuracy(net: nn.Module, x: torch.Tensor, truth: np.ndarray, k: int) -> tuple[float, int]:
    """k-robust accuracy (ours) and how many images it is over."""
    with torch.no_grad():
        result = k_accuracy(torch.sigmoid(net(x)).numpy(), truth, k)
    return result.value, result.images


def attacked(reference: str, loss: str = "bce", seed: int = 2, k: int = 3):
    """Per (ε, budget) the k = 1, 3 robust accuracies under the untargeted attack away from ``reference``."""
    model, net, x, truth = weak_ranker(seed)
    with torch.no_grad():
        clean = torch.sigmoid(net(x)).numpy()
    thresholds = np.full(LABELS, 0.5)
    vectors = untargeted_reference(reference, truth=truth, clean_probs=clean, thresholds=thresholds)
    criterion = MultiLabelMisclassification(torch.from_numpy(vectors), torch.from_numpy(thresholds))
    out = {}
    for eps in EPSILONS:
        runs = MultiLabelPGD(loss=loss, k=k).run_steps(model, x, criterion, epsilon=eps / 255, steps=BUDGETS)
        for steps, adv in runs.items():
            out[eps, steps] = {kk: robust_accuracy(net, adv, truth, kk)[0] for kk in (1, 3)}
    clean_figures = {kk: robust_accuracy(net, x, truth, kk) for kk in (1, 3)}
    return clean_figures, out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("loss", ["bce", "topk"])
def test_truth_referenced_attack_never_raises_k_robust_accuracy(seed, loss):
    clean, runs = attacked("truth", loss, seed)
    for k, (value, images) in clean.items():
        worst = max(figures[k] for figures in runs.values())
        assert worst <= value + 1 / images + 1e-9, (k, value, worst)


def test_prediction_referenced_attack_raises_k_robust_accuracy_on_the_toy():
    # The bug the reference option fixes: moving away from the clean prediction lifts the missed findings.
    clean, runs = attacked("prediction")
    value, images = clean[1]
    assert max(figures[1] for figures in runs.values()) >= value + 2 / images


def test_topk_loss_by_hand():
    logits = torch.tensor([[3.0, 1.0, 2.0, 0.0], [0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0]])
    reference = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    # image 0: P = {0}; the other logits 2, 1, 0: the 1st is 2, the 3rd is 0 (k = 3), the 5th does not exist
    # (the smallest, 0); images 1 (no finding) and 2 (no label outside P) add nothing
    for k, kth in ((1, 2.0), (3, 0.0), (5, 0.0)):
        expected = torch.nn.functional.softplus(torch.tensor(kth - 3.0))
        assert torch.allclose(topk_margin(logits, reference, k), torch.stack([expected, torch.tensor(0.0),
                                                                              torch.tensor(0.0)]))
    # Ascending it pushes the finding down and the k-th other label up.
    z = logits.clone().requires_grad_(True)
    topk_margin(z, reference, 1).sum().backward()
    assert z.grad[0, 0] < 0 < z.grad[0, 2] and z.grad[0, 1] == 0 and torch.all(z.grad[1:] == 0)


def test_topk_loss_empties_the_top_k_where_bce_does_not():
    _, bce = attacked("truth", "bce")
    _, topk = attacked("truth", "topk", k=3)
    assert topk[64, 50][3] < bce[64, 50][3]


def test_reference_vectors_and_refusals():
    truth = np.array([[1, 0, 1]])
    clean = np.array([[0.2, 0.7, 0.9]])
    thresholds = np.array([0.5, 0.8, 0.5])
    assert untargeted_reference("truth", truth=truth, clean_probs=clean, thresholds=thresholds).tolist() == [[1, 0, 1]]
    assert untargeted_reference("prediction", truth=truth, clean_probs=clean,
                                thresholds=thresholds).tolist() == [[0, 0, 1]]
    with pytest.raises(ConfigError, match="unknown multi-label reference 'clean'"):
        untargeted_reference("clean", truth=truth, clean_probs=clean, thresholds=thresholds)
    model, _, x, truth = weak_ranker()
    target = MultiLabelTarget(torch.from_numpy(truth).float(), torch.full((LABELS,), 0.5))
    with pytest.raises(ConfigError, match="cannot descend"):
        MultiLabelPGD(loss="topk").run_steps(model, x, target, epsilon=0.1, steps=[1])
    assert "topk" in LOSSES and repr(MultiLabelPGD(loss="topk", k=1)).startswith("MultiLabelPGD(loss='topk', k=1,")


def test_config_defaults_to_the_truth_and_the_papers_step_grid():
    from cxrbench.kit.compose import compose_raw
    from cxrbench.kit.config import validate

    for experiment in ("multilabel_quick", "multilabel_nih"):  # composed only: data=nih needs a data root
        ml = compose_raw([f"experiment={experiment}"], CONFIGS).multilabel
        assert ml.reference == "truth" and list(ml.steps) == [1, 5, 10, 25, 50]  # Ghamizi et al.'s grid
    ml = validate(compose_raw(["task=multilabel", "multilabel=default"], CONFIGS)).multilabel
    assert (ml.reference, ml.steps, ml.k) == ("truth", [1, 5, 10, 25, 50], 3)
    for overrides, message in ((["multilabel.reference=clean"], "unknown multilabel.reference 'clean'"),
                               (["multilabel.risk_losses=[topk]"], "unknown multilabel risk loss 'topk'"),
                               (["multilabel.k=0"], "multilabel.k must be a positive integer")):
        with pytest.raises(ConfigError, match=message):
            compose_config(["experiment=multilabel_quick", *overrides])


def test_keep_hands_back_no_image_better_than_its_clean_self():
    # Two labels, label 0 present. Both logits fall as x rises, the absent one faster, so ascending the
    # truth-referenced BCE (whose gradient is all label 0's, σ(z_1) ≈ 0) lifts the finding to the top:
    # z_1 - z_0 = 1 - 2x, the finding leads from x = 0.5 on (ties go to label 0, the first).
    net = nn.Linear(1, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[-1.0], [-3.0]]))
        net.bias.copy_(torch.tensor([-5.0, -4.0]))
    model, x, truth = fb.PyTorchModel(net.eval(), bounds=(0.0, 1.0)), torch.zeros(1, 1), np.array([[1, 0]])
    criterion = MultiLabelMisclassification(torch.tensor([[1.0, 0.0]]), torch.full((2,), 0.5))
    attack = MultiLabelPGD(loss="bce")   # step ε/4
    plain = attack.run_steps(model, x, criterion, epsilon=1.0, steps=[1, 2, 4])
    assert [float(plain[s]) for s in (1, 2, 4)] == [0.25, 0.5, 1.0]
    assert robust_accuracy(net, x, truth, 1)[0] == 0 and robust_accuracy(net, plain[4], truth, 1)[0] == 1

    from cxrbench.kit.multilabel_clean import robust_scores
    kept = attack.run_steps(model, x, criterion, epsilon=1.0, steps=[1, 2, 4], keep=robust_scores(truth))
    # x = 0.25 still ranks the absent label first; from 0.5 on the finding leads, so 0.25 is kept.
    assert [float(kept[s]) for s in (1, 2, 4)] == [0.25, 0.25, 0.25]
    assert all(robust_accuracy(net, kept[s], truth, 1)[0] == 0 for s in (1, 2, 4))


def test_keep_changes_nothing_where_the_ascent_never_undoes_itself():
    from cxrbench.kit.multilabel_clean import robust_scores

    # A small tanh MLP on the toy's inputs: on this seed the truth-referenced walk lifts 2 of 32 images
    # above their clean scores at some step (the linear toy never does).
    g = torch.Generator().manual_seed(3)
    x = torch.rand(IMAGES, FEATURES, generator=g)
    truth = (x[:, :LABELS] > 0.5).numpy().astype(int)
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(FEATURES, 32), nn.Tanh(), nn.Linear(32, LABELS)).eval()
    model = fb.PyTorchModel(net, bounds=(0.0, 1.0))
    criterion = MultiLabelMisclassification(torch.from_numpy(truth).float(), torch.full((LABELS,), 0.5))
    every = list(range(1, 51))
    plain = MultiLabelPGD(loss="bce").run_steps(model, x, criterion, epsilon=8 / 255, steps=every)
    kept = MultiLabelPGD(loss="bce").run_steps(model, x, criterion, epsilon=8 / 255, steps=every,
                                               keep=robust_scores(truth))
    scores = robust_scores(truth)
    with torch.no_grad():
        clean = scores(net(x))
        walk = [clean] + [scores(net(plain[s])) for s in every]
    monotone = torch.ones(len(x), dtype=torch.bool)
    for steps in every:
        after = scores(net(kept[steps]))
        assert torch.all(after <= clean)   # per image, at both k and both readings
        monotone &= torch.all(walk[steps] <= walk[steps - 1], dim=1)
        # an image whose walk never went up at any score so far is handed back as the plain iterate
        assert torch.equal(kept[steps][monotone], plain[steps][monotone])
    assert 0 < monotone.sum() < len(x)   # both kinds of image occur on this toy
