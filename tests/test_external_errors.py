"""Bad external models fail with one line before (or as) they are read; outputs map onto the task's labels."""
import pytest
import torch

from conftest import compose_config
from external_fixtures import TINY_CNN, XRV, run_overrides, tiny_cnn, torchscript_file, xrv_state_dict

from cxrbench.data.labels import NIH_LABELS
from cxrbench.errors import CheckpointError, ConfigError
from cxrbench.models.external import load_external
from cxrbench.models.external_head import OutputHead



def _load(cfg, task="binary", labels=NIH_LABELS):
    return load_external(cfg.model, task=task, labels=labels, num_classes=2 if task == "binary" else len(labels))


@pytest.mark.parametrize("extra,message", [
    (["model.path=/nowhere/m.pt"], "model.path /nowhere/m.pt is not a file"),
    (["model.output=three_logits"], "model.output is 'three_logits'; choose one of: two_logits, one_logit"),
    (["model.normalise=null"], "model.normalise is not set (what the model expects"),
    (["model.arch=resnet18"], "drop model.arch"),
    (["pooling=avg"], "use pooling=max"),
    (["model.labels=[Mass]"], "drop model.labels or declare label_logits"),
    (["task=multilabel"], "task=multilabel needs one output per label"),
])
def test_bad_external_configs_fail_with_one_line(tmp_path, extra, message):
    path = torchscript_file(tmp_path / "m.pt")
    with pytest.raises(ConfigError) as info:
        compose_config(run_overrides(tmp_path, *TINY_CNN, f"model.path={path}", *extra))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_labels_are_stated_for_the_multilabel_task_not_guessed(tmp_path):
    path, _ = xrv_state_dict(tmp_path / "x.pt")
    labels = list(NIH_LABELS[:12]) + ["", "", "Lung Opacity", "", "", "", "", ""]   # 18 outputs, two findings absent
    with pytest.raises(ConfigError, match="does not predict Pleural_Thickening, Hernia .cxrbench does not guess"):
        compose_config(run_overrides(tmp_path, *XRV, f"model.path={path}", "task=multilabel",
                                     f"model.labels=[{','.join(repr(n) for n in labels)}]"))


def test_corrupt_foreign_and_miscounted_files_are_refused_when_read(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01not a model at all" * 10)
    cfg = compose_config(run_overrides(tmp_path, *TINY_CNN, f"model.path={garbage}"))
    with pytest.raises(CheckpointError, match="cannot read model.path .* as TorchScript"):
        _load(cfg)
    state = tmp_path / "cnn_state.pt"
    torch.save(tiny_cnn().state_dict(), state)
    cfg = compose_config(run_overrides(tmp_path, *XRV, f"model.path={state}"))
    with pytest.raises(CheckpointError, match="is not a state dict of xrv.densenet121 with 18 outputs.*missing"):
        _load(cfg)
    script = torchscript_file(tmp_path / "m.pt")   # two outputs, declared as three labels
    cfg = compose_config(run_overrides(tmp_path, *TINY_CNN, f"model.path={script}", "model.output=label_probs",
                                       "model.labels=[Mass,Nodule,Effusion]"))
    with pytest.raises(CheckpointError, match="gives 2 output.* declares 3"):
        _load(cfg)


def test_the_calibration_is_off_and_outputs_meet_the_task_labels(tmp_path):
    path, _ = xrv_state_dict(tmp_path / "x.pt")
    cfg = compose_config(run_overrides(tmp_path, *XRV, f"model.path={path}"))
    binary, multi = _load(cfg).model, _load(cfg, "multilabel").model
    net = multi.backbone.net
    assert net.op_threshs is None
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        raw = net((x - 0.5) * 2048)   # torchxrayvision's [-1024, 1024]
        columns = [list(net.targets).index(n) for n in NIH_LABELS]
        assert torch.allclose(multi(x), raw[:, columns], atol=1e-5)   # the 14 in ChestX-ray14's order
        assert torch.allclose(binary(x)[:, 1], raw[:, columns].amax(1), atol=1e-5)   # any finding
        assert (binary(x)[:, 0] == 0).all()

    p = torch.tensor([[0.2, 0.9, 0.0], [0.6, 0.1, 1.0]])
    head = OutputHead(lambda _: p, "label_probs", "multilabel", (2, 0))
    assert torch.allclose(head(None), torch.logit(p, eps=1e-6)[:, [2, 0]])
    assert torch.isfinite(head(None)).all()   # 0 and 1 are clamped, never infinite logits
