"""The composed Hydra config and its schema validation."""
import pytest

from conftest import compose_config

from cxrbench.data.nih_source import NihDataConfig
from cxrbench.data.phantom_source import PhantomDataConfig
from cxrbench.errors import ConfigError


def test_default_config_composes_to_the_embedded_quick_setup():
    cfg = compose_config([])
    assert isinstance(cfg.data, PhantomDataConfig)
    assert (cfg.model.name, cfg.pooling.mode, cfg.train.name) == ("nasnet", "max", "quick")
    assert cfg.data.n_test == 200 and cfg.data.test_positives == 93


@pytest.mark.parametrize("model,size,batch", [("irv2", 299, 32), ("nasnet", 331, 8)])
def test_paper_recipe_takes_size_and_batch_from_the_model(model, size, batch):
    cfg = compose_config([f"model={model}", "train=paper"])
    assert (cfg.train.input_size, cfg.train.batch_size) == (size, batch)
    assert (cfg.train.optimizer, cfg.train.lr, cfg.train.rmsprop_eps, cfg.train.rmsprop_alpha) == \
        ("rmsprop_tf", 0.045, 1.0, 0.9)
    assert (cfg.train.schedule, cfg.train.decay_epochs, cfg.train.decay_rate) == ("step", 4, 0.94)


def test_nih_group_is_typed():
    cfg = compose_config(["data=nih", "data.root=/data/cxr14", "data.split=paper"])
    assert isinstance(cfg.data, NihDataConfig) and cfg.data.split == "paper"


@pytest.mark.parametrize("overrides,message", [
    (["+train.lrr=1"], "unknown config key 'train.lrr'"),
    (["train.optimizer=adam"], "unknown train.optimizer 'adam'"),
    (["train.max_steps=null"], "exactly one of train.epochs and train.max_steps"),
    (["data=nih"], "data.root="),
    (["+bogus=1"], "unknown top-level config keys ['bogus']"),
    (["train.lr=fast"], "invalid value for 'train.lr'"),
])
def test_invalid_configs_fail_with_one_line(overrides, message):
    with pytest.raises(ConfigError) as info:
        compose_config(overrides)
    assert message in str(info.value) and "\n" not in str(info.value)
