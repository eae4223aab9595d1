"""Models you bring, made by the tests: a tiny CNN exported to TorchScript, a torchxrayvision DenseNet state dict."""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torchxrayvision as xrv
from torch import nn

from conftest import TINY
from tiny_models import TinyCNN

#: The TorchScript CNN as ``model=external`` reads it: 32 px, one channel, it normalises itself, two logits.
TINY_CNN = ["model=external", "model.format=torchscript", "model.input_size=32", "model.normalise=none",
            "model.output=two_logits"]
#: The torchxrayvision DenseNet state dict as it reads it: 32 px, torchxrayvision's scaling, its 18 raw logits.
XRV = ["model=external", "model.format=state_dict", "model.arch=xrv.densenet121", "model.input_size=32",
       "model.normalise=xrv", "model.output=label_logits"]
#: The fields a record measured (what the API and the command line must agree on); ids, paths and times left out.
MEASURED = ("setting", "model", "source", "pooling", "attack", "images", "n_positive", "accuracy", "auc",
            "clean_accuracy", "clean_auc", "success_rate", "metrics", "image_set", "attack_params", "cell_key",
            "epsilon", "worst_case_auc")


class OneLogit(nn.Module):
    """The one-logit twin of a two-logit model: its finding logit minus its no-finding logit."""

    def __init__(self, two: nn.Module):
        super().__init__()
        self.two = two

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.two(x)
        return out[:, 1:] - out[:, :1]


def tiny_cnn(seed: int = 0) -> TinyCNN:
    torch.manual_seed(seed)
    return TinyCNN().eval()


def torchscript_file(path: Path, seed: int = 0) -> Path:
    """A TinyCNN exported to TorchScript at ``path``."""
    torch.jit.script(tiny_cnn(seed)).save(str(path))
    return path


def xrv_state_dict(path: Path, seed: int = 0) -> tuple[Path, torch.Tensor]:
    """A torchxrayvision DenseNet's state dict (random weights standing in for downloaded ones) with op_threshs set."""
    torch.manual_seed(seed)
    net = xrv.models.DenseNet(weights=None)
    thresholds = torch.rand(18) * 0.2
    thresholds[14] = float("nan")   # as in the real files: a label without an operating point
    net.op_threshs = thresholds
    torch.save(net.state_dict(), path)
    return path, thresholds


def run_overrides(tmp: Path, *extra: str) -> list[str]:
    """The shrunken pipeline (32 px images) writing under ``tmp``."""
    return TINY + ["train.input_size=32", f"paths.results_dir={tmp / 'results'}",
                   f"paths.cache_dir={tmp / 'cache'}", *extra]


def measured(record: dict) -> str:
    """The measured fields of a record as one comparable string (NaN compares equal to NaN here)."""
    return json.dumps({k: record.get(k) for k in MEASURED}, sort_keys=True)


def records_under(results: Path, kind: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "records" / kind).rglob("*.json"))]
