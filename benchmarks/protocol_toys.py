"""Before/after figures of the issue-21 protocol changes (studies, robust table, adversarial training) on toys.

    PYTHONPATH=src python benchmarks/protocol_toys.py [3 4 5 6 7]   # a few minutes on one CPU core

Each section prints the numbers quoted in ``docs/protocol-changes-studies.md``:

(3) the study step: an image that needs 0.9 ε under G2's ε/30 and under ε/8, and success at 20
    steps on the tests' tiny CNN (blob images) for both steps;
(4) label smoothing: where the clean confidences of the tiny CNN land with smoothing 0.1 and 0;
(5) the stored AUC: accuracy, AUC of the worst case found and AUC of the adversarials themselves;
(6) adversarial training of a tiny CNN with BatchNorm: robust accuracy of the same weights with
    BatchNorm statistics from clean or from adversarial batches, and the checkpoint each
    selection rule keeps;
(7) PGD vs APGD-CE image by image on the tiny CNN.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
torch.set_num_threads(1)

from tiny_models import Threshold, TinyCNN, blob_images, foolbox_model, trained_tiny_cnn  # noqa: E402

from cxrbench.attacks import create_attack  # noqa: E402
from cxrbench.training.adversarial import pgd_batch  # noqa: E402


def section_step() -> None:
    eps = 0.1
    x, y = torch.full((1, 1, 4, 4), 0.5), torch.zeros(1, dtype=torch.long)
    for rel in (1 / 30, 1 / 8):
        attack = create_attack("pgd", rel_stepsize=rel, iterations=50)
        _, _, first = attack.run_trajectory(foolbox_model(Threshold(0.5 + 0.9 * eps)), x, y, eps)
        print(f"(3) image needing 0.9 eps, step eps/{round(1 / rel)}: first fooled at step {first[0]}")
    model = trained_tiny_cnn(seed=0)
    x, y = blob_images(200, seed=11)
    keep = model(x).argmax(1) == y
    x, y = x[keep], y[keep]
    for eps in (0.1, 0.15, 0.2, 0.25):
        line = []
        for rel in (1 / 30, 1 / 8):
            attack = create_attack("pgd", rel_stepsize=rel, iterations=50)
            _, _, first = attack.run_trajectory(foolbox_model(model), x, y, eps)
            at20 = float(((first >= 1) & (first <= 20)).mean())
            line.append(f"eps/{round(1 / rel)}: success@20 {at20:.2f}, @50 {float((first >= 1).mean()):.2f}")
        print(f"(3) tiny CNN, {len(x)} correct images, eps={eps}: " + "; ".join(line))


def _train(smoothing: float, seed: int = 0, steps: int = 150) -> nn.Module:
    torch.manual_seed(seed)
    model = TinyCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = blob_images(256, seed=seed + 1)
    for _ in range(steps):
        with torch.enable_grad():   # the attacks' inference passes may leave gradients switched off
            loss = F.cross_entropy(model(x), y, label_smoothing=smoothing)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def section_smoothing() -> None:
    x, y = blob_images(400, seed=21)
    for smoothing in (0.1, 0.0):
        with torch.no_grad():
            p = F.softmax(_train(smoothing)(x), 1)
        conf, correct = p.max(1).values, p.argmax(1) == y
        top = float((conf[correct] >= 0.95).float().mean())
        print(f"(4) label smoothing {smoothing}: accuracy {float(correct.float().mean()):.3f}, correct images with "
              f"confidence >= 0.95: {top:.2f}, median confidence {float(conf[correct].median()):.3f}, "
              f"max {float(conf.max()):.4f}")


def section_auc() -> None:
    model = trained_tiny_cnn(seed=0)
    x, y = blob_images(200, seed=31)
    for eps in (0.15, 0.25):
        attack = create_attack("pgd", rel_stepsize=1 / 8, iterations=20)
        adv, fooled = attack.run_fixed(foolbox_model(model), x, y, eps)
        with torch.no_grad():
            clean_p = F.softmax(model(x), 1)[:, 1].numpy()
            adv_p = F.softmax(model(adv), 1)[:, 1].numpy()
        worst = np.where(fooled.numpy(), adv_p, clean_p)
        acc = float(((worst > 0.5) == y.numpy()).mean())
        print(f"(5) tiny CNN eps={eps}: accuracy under attack {acc:.3f}, AUC of the worst case found "
              f"{roc_auc_score(y, worst):.3f}, clean AUC {roc_auc_score(y, clean_p):.3f}")


class BNNet(nn.Module):
    """The tiny CNN with a BatchNorm after its convolution."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.head = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.adaptive_max_pool2d(F.relu(self.bn(self.conv(x))), 1).flatten(1))


def _robust(model: nn.Module, x, y, eps: float) -> float:
    model.eval()
    adv = pgd_batch(model, x, y, epsilon=eps, steps=10, alpha=eps / 4, random_start=False)
    with torch.no_grad():
        return float((model(adv).argmax(1) == y).float().mean())


def _recalibrate(model: nn.Module, batches: list[torch.Tensor]) -> None:
    bn = model.bn
    bn.reset_running_stats()
    bn.momentum = None
    model.train()
    with torch.no_grad():
        for b in batches:
            model(b)
    bn.momentum = 0.1
    model.eval()


def section_adversarial_training() -> None:
    torch.manual_seed(0)
    eps, model = 0.15, BNNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = blob_images(256, seed=1)
    xv, yv = blob_images(128, seed=41)
    picks = []
    for step in range(1, 121):
        model.train()
        rows = torch.randint(0, len(x), (32,))
        adv = pgd_batch(model, x[rows], y[rows], epsilon=eps, steps=3, alpha=2.5 * eps / 3, random_start=True)
        loss = F.cross_entropy(model(adv), y[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0:
            batches = [x[torch.randint(0, len(x), (32,))] for _ in range(10)]
            model.train()   # crafted as in training (train-mode BatchNorm); the stats are reset below anyway
            crafted = []
            for _ in range(10):
                r = torch.randint(0, len(x), (32,))
                crafted.append(pgd_batch(model, x[r], y[r], epsilon=eps, steps=3, alpha=2.5 * eps / 3,
                                         random_start=True))
            state = {k: v.clone() for k, v in model.state_dict().items()}
            _recalibrate(model, batches)
            clean_bn = (_robust(model, xv, yv, eps), _clean_auc(model, xv, yv))
            model.load_state_dict(state)
            _recalibrate(model, crafted)
            adv_bn = (_robust(model, xv, yv, eps), _clean_auc(model, xv, yv))
            picks.append((step, clean_bn, adv_bn))
            print(f"(6) step {step}: BN from clean batches: robust acc {clean_bn[0]:.3f}, clean AUC "
                  f"{clean_bn[1]:.3f} | BN from adversarial batches: robust acc {adv_bn[0]:.3f}, clean AUC "
                  f"{adv_bn[1]:.3f}")
    old = max(picks, key=lambda p: p[1][1])
    new = max(picks, key=lambda p: (p[2][0], p[2][1]))
    print(f"(6) old rule (clean BN, best clean val AUC) keeps step {old[0]}: robust acc {old[1][0]:.3f}; "
          f"new rule (adversarial BN, best robust val acc) keeps step {new[0]}: robust acc {new[2][0]:.3f}")


def _clean_auc(model: nn.Module, x, y) -> float:
    with torch.no_grad():
        return float(roc_auc_score(y, F.softmax(model.eval()(x), 1)[:, 1]))


def section_apgd() -> None:
    model = trained_tiny_cnn(seed=0)
    x, y = blob_images(200, seed=51)
    keep = model(x).argmax(1) == y
    x, y = x[keep], y[keep]
    for eps in (0.1, 0.15, 0.2):
        _, pgd = create_attack("pgd", iterations=100).run_fixed(foolbox_model(model), x, y, eps)
        _, apgd = create_attack("apgd", n_iter=100).run_fixed(foolbox_model(model), x, y, eps)
        pgd, apgd = pgd.numpy(), apgd.numpy()
        print(f"(7) tiny CNN eps={eps}, {len(x)} correct: PGD broke {pgd.sum()}, APGD-CE {apgd.sum()}, "
              f"PGD only {(pgd & ~apgd).sum()}, APGD-CE only {(apgd & ~pgd).sum()}, either {(pgd | apgd).sum()}")


SECTIONS = {"3": section_step, "4": section_smoothing, "5": section_auc, "6": section_adversarial_training,
            "7": section_apgd}

if __name__ == "__main__":
    for name in sys.argv[1:] or SECTIONS:   # e.g. ``protocol_toys.py 3 6``: those sections only
        SECTIONS[name]()
