"""PGD adversarial training (train=adversarial): the batch adversary, its config, its checkpoint key."""
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, TINY, compose_config
from tiny_models import blob_images, trained_tiny_cnn

from cxrbench.errors import ConfigError
from cxrbench.models import create_model
from cxrbench.runtime import resolve_runtime
from cxrbench.training.adversarial import AdversaryConfig, build_batch_adversary, epsilon_label, pgd_batch
from cxrbench.training.batchnorm import recalibrate_batchnorm
from cxrbench.training.store import checkpoint_key


def test_train_adversarial_is_the_quick_recipe_plus_pgd():
    quick, adversarial = compose_config([]).train, compose_config(["train=adversarial"]).train
    assert adversarial.adversary.method == "pgd" and quick.adversary.method == "none"
    assert adversarial.adversary.epsilon == pytest.approx(2 / 255) and adversarial.adversary.steps == 3
    assert replace(adversarial, adversary=quick.adversary) == quick  # nothing else differs
    assert adversarial.adversary.regime() == "pgd-at" and quick.adversary.regime() == "standard"
    assert adversarial.adversary.describe() == "PGD-AT ε=2/255, 3 steps of 0.006536"


@pytest.mark.parametrize("override, message", [
    ("train.adversary.method=trades", "unknown train.adversary.method 'trades'; choose one of: none, pgd"),
    ("train.adversary.epsilon=0", "train.adversary.epsilon must be positive"),
    ("train.adversary.steps=0", "train.adversary.steps must be positive"),
])
def test_bad_adversary_settings_fail_before_any_work(override, message):
    with pytest.raises(ConfigError, match=message):
        compose_config(["train=adversarial", override])


def test_standard_checkpoint_keys_ignore_the_adversary_and_adversarial_ones_include_it():
    model = create_model("irv2", "max", input_size=80)
    quick, adversarial = compose_config([]).train, compose_config(["train=adversarial"]).train
    key = lambda train: checkpoint_key({"source": "phantom"}, "split", model.identity, train, 0)  # noqa: E731
    assert key(quick) == key(replace(quick, adversary=AdversaryConfig(epsilon=0.5)))  # unused settings
    assert key(adversarial) != key(quick)
    assert key(adversarial) != key(replace(adversarial, adversary=replace(adversarial.adversary, epsilon=4 / 255)))


def test_pgd_batch_stays_in_the_ball_and_raises_the_loss():
    model = trained_tiny_cnn(seed=0)
    model.zero_grad(set_to_none=True)
    x, y = blob_images(32, seed=3)
    eps = 0.05
    adv = pgd_batch(model, x, y, epsilon=eps, steps=5, alpha=2.5 * eps / 5, random_start=True,
                    generator=torch.Generator().manual_seed(0))
    assert (adv - x).abs().max() <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert not adv.requires_grad and all(p.grad is None for p in model.parameters())
    with torch.no_grad():
        assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)


def test_the_adversary_is_chosen_once_and_keyed_by_step():
    model = trained_tiny_cnn(seed=0)
    x, y = blob_images(8, seed=3)
    assert build_batch_adversary(AdversaryConfig(), seed=0)(model, x, y, 5) is x  # standard: the batch itself
    pgd = build_batch_adversary(AdversaryConfig(method="pgd", epsilon=0.03), seed=0)
    first, again, other = pgd(model, x, y, 5), pgd(model, x, y, 5), pgd(model, x, y, 6)
    assert torch.equal(first, again)        # a resumed run redraws step 5's start exactly
    assert not torch.equal(first, other)


def test_epsilon_labels():
    assert (epsilon_label(2 / 255), epsilon_label(0.5 / 255), epsilon_label(0.0123)) == ("2/255", "0.5/255", "0.0123")


def test_adversarial_checkpoint_keys_carry_the_protocol_and_standard_keys_stay():
    model = create_model("irv2", "max", input_size=80)
    quick, adversarial = compose_config([]).train, compose_config(["train=adversarial"]).train
    key = lambda train: checkpoint_key({"source": "phantom"}, "split", model.identity, train, 0)  # noqa: E731
    assert key(quick) == "554e971ccfe96a63"            # standard checkpoints keep the keys they were stored under
    assert key(adversarial) != "ecc7c7701a25d921"      # PGD-AT under protocol 1 (clean BN, clean-AUC selection)
    from cxrbench.training.adversarial import AT_PROTOCOL

    assert AT_PROTOCOL == 2


class _Images:
    """A stand-in training split: ``batch`` returns fixed images and labels."""

    def __init__(self, x: torch.Tensor):
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, rows):
        return self.x[torch.as_tensor(rows)], torch.zeros(len(rows), dtype=torch.long)


def test_batchnorm_statistics_come_from_the_transformed_batches_alone():
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(1))
    x = torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(0))

    def shift(batch, y, b):
        model(batch * 100)          # the adversary's own forward passes must not enter the statistics
        return batch + 1

    recalibrate_batchnorm(model, _Images(x), resolve_runtime("cpu"), batches=3, batch_size=8, transform=shift)
    assert model[0].running_mean.item() == pytest.approx(x.mean().item() + 1, abs=1e-5)


def test_pgd_at_recalibrates_on_adversarial_batches_and_keeps_the_most_robust_checkpoint(tmp_path, monkeypatch):
    from cxrbench.data import create_data_source
    from cxrbench.data.build import build_data
    from cxrbench.training import loop

    cfg = compose_config(TINY + ["train=adversarial", "train.input_size=75", "train.max_steps=3", "train.eval_every=1",
                                 "train.bn_recalibration_batches=2"], tmp_path)
    data = build_data(create_data_source(cfg.data, ROOT), 75, tmp_path / "cache", progress=False)
    eps, shifts, real = cfg.train.adversary.epsilon, [], loop.recalibrate_batchnorm

    def spy(model, dataset, runtime, **kwargs):
        transform = kwargs.get("transform")
        if transform is None:
            shifts.append(None)
        else:
            x, y = dataset.batch(np.arange(4))
            shifts.append(float((transform(x, y, 0) - x).abs().max()))
        return real(model, dataset, runtime, **kwargs)

    monkeypatch.setattr(loop, "recalibrate_batchnorm", spy)
    result = loop.fit(create_model("irv2", "max", input_size=75), data, cfg.train, tmp_path / "run",
                      resolve_runtime("cpu"), seed=0, progress=False)
    # Every re-estimation ran on adversarial batches: perturbed, within the training ε.
    assert len(shifts) == 3 and all(s is not None and 0 < s <= eps + 1e-6 for s in shifts)
    scores = [(h["val_robust_accuracy"], h["val_auc"]) for h in result.history]
    assert result.best_step == result.history[scores.index(max(scores))]["step"]
    assert result.selected_by.startswith("val_robust_accuracy")
