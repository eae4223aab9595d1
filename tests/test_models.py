"""Model factory and the max -> average pooling swap, on the real timm networks."""
import pytest
import timm
import torch
import torch.nn as nn

from conftest import CONFIGS, compose_config

from cxrbench.errors import CheckpointError, ConfigError
from cxrbench.models import create_model, get_model_spec, list_models, max_pool_modules
from cxrbench.models.init_weights import initialise_from
from cxrbench.models.pooling import replace_max_pooling

# Smallest inputs each network accepts keep these tests fast.
SIZES = {"irv2": 75, "nasnet": 32}


def test_registry_lists_both_paper_backbones():
    assert list_models(in_paper=True) == ["irv2", "nasnet"]
    assert set(list_models(in_paper=False)) == set(list_models()) - {"irv2", "nasnet"}
    assert get_model_spec("irv2").paper_id == "IR2" and get_model_spec("nasnet").paper_id == "NL"
    with pytest.raises(ConfigError, match="choose one of: external, irv2, nasnet"):
        get_model_spec("resnet9")


def test_every_registered_backbone_has_its_model_config():
    assert sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml")) == list_models()


def test_local_weights_initialise_the_backbone_and_leave_a_mismatched_head_fresh(tmp_path):
    torch.manual_seed(0)
    source = create_model("nasnet", "max", input_size=32, num_classes=3)
    state = {f"module.{k}": v for k, v in source.backbone.state_dict().items()}  # a DataParallel-style file
    torch.save(state, tmp_path / "w.pt")
    torch.manual_seed(1)
    target = create_model("nasnet", "max", input_size=32)
    info = initialise_from(target, tmp_path / "w.pt")
    own, theirs = target.backbone.state_dict(), source.backbone.state_dict()
    head = [k for k in own if own[k].shape != theirs[k].shape]
    assert head and info["fresh"] == sorted(head) and info["loaded"] == len(own) - len(head)
    assert all(torch.equal(own[k], theirs[k]) for k in own if k not in head)
    assert len(info["digest"]) == 16


def test_foreign_or_pickled_weights_are_refused_with_the_fix(tmp_path):
    model = create_model("nasnet", "max", input_size=32)
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="matches 0 of the .* another architecture"):
        initialise_from(model, tmp_path / "other.pt")
    torch.save(nn.Linear(2, 2), tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match="saved as its state dict once"):
        initialise_from(model, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        initialise_from(model, tmp_path / "missing.pt")


def test_checkpoint_and_initial_weights_exclude_each_other():
    with pytest.raises(ConfigError, match="exclude each other"):
        compose_config(["model.checkpoint=a.pt", "model.weights=b.pt"])


@pytest.mark.parametrize("name", ["irv2", "nasnet"])
def test_avg_pooling_removes_every_max_pool_and_keeps_shapes(name):
    size = SIZES[name]
    torch.manual_seed(0)
    original = create_model(name, "max", input_size=size).eval()
    torch.manual_seed(0)
    swapped = create_model(name, "avg", input_size=size).eval()
    assert max_pool_modules(original), "the published network has max pools to swap"
    assert max_pool_modules(swapped) == []
    assert not any("MaxPool" in type(m).__name__ for m in swapped.modules())
    # Same parameters (pooling has none), same output shape, different function.
    assert [k for k, _ in original.named_parameters()] == [k for k, _ in swapped.named_parameters()]
    x = torch.rand(2, 1, size, size)
    with torch.no_grad():
        a, b = original(x), swapped(x)
    assert a.shape == b.shape == (2, 2)
    assert not torch.allclose(a, b)
    # The final global pooling stays average in both variants.
    assert swapped.backbone.global_pool.pool_type == original.backbone.global_pool.pool_type == "avg"


@pytest.mark.parametrize("name", ["irv2", "nasnet"])
def test_max_pooling_is_the_untouched_timm_network(name):
    size, spec = SIZES[name], get_model_spec(name)
    torch.manual_seed(0)
    ours = create_model(name, "max", input_size=size).eval()
    torch.manual_seed(0)
    reference = timm.create_model(spec.timm_name, pretrained=False, num_classes=2, in_chans=1).eval()
    assert [type(m) for m in ours.backbone.modules()] == [type(m) for m in reference.modules()]
    ours_state, ref_state = ours.backbone.state_dict(), reference.state_dict()
    assert ours_state.keys() == ref_state.keys()
    assert all(torch.equal(ours_state[k], ref_state[k]) for k in ref_state)
    x = torch.rand(2, 1, size, size)
    with torch.no_grad():
        expected = reference((x - 0.5) / 0.5)  # timm's mean/std for both networks
        assert torch.allclose(ours(x), expected, atol=1e-5)


def test_swap_keeps_geometry_of_each_pool():
    net = nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True))
    assert replace_max_pooling(net) == 1
    pool = net[0]
    assert isinstance(pool, nn.AvgPool2d)
    assert (pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode) == (3, 2, 1, True)


def test_wrapper_replicates_gray_into_rgb_stem_and_resizes():
    model = create_model("nasnet", "max", input_size=32, channels=3).eval()
    assert model.backbone.conv0.conv.in_channels == 3
    with torch.no_grad():
        assert model(torch.rand(1, 1, 48, 48)).shape == (1, 2)  # resized to 32 inside


def test_input_below_minimum_is_a_config_error():
    with pytest.raises(ConfigError, match="needs input_size >= 75"):
        create_model("irv2", "max", input_size=64)
