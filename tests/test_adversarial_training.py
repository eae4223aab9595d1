"""PGD adversarial training (train=adversarial): the batch adversary, its config, its checkpoint key."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from conftest import compose_config
from tiny_models import blob_images, trained_tiny_cnn

from cxrbench.errors import ConfigError
from cxrbench.models import create_model
from cxrbench.training.adversarial import AdversaryConfig, build_batch_adversary, epsilon_label, pgd_batch
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
    key = lambda train: checkpoint_key({"source": "phantom"}, "split", model, train, 0)  # noqa: E731
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
