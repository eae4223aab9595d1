"""DenseNet-121 as torchxrayvision builds it (Cohen et al. 2022), from scratch or from local weights.

torchxrayvision's ``DenseNet`` with no ``weights`` argument: nothing is downloaded, its operating
point thresholds (``op_threshs``) stay unset and its sigmoid off, so it returns raw logits, which the
attacks need. Its inputs are expected in torchxrayvision's ``[-1024, 1024]`` range: the wrapper's
normalisation ``(x - 0.5) / (1 / 2048)`` maps ``[0, 1]`` pixels there. Local weights (e.g. the
``densenet121-res224-nih`` file a user already has) are loaded with ``model.weights=<file>``.
"""
import torchxrayvision as xrv

from cxrbench.models.registry import ModelSpec, register_model

register_model(ModelSpec(
    name="xrv_densenet121",
    timm_name="torchxrayvision.models.DenseNet",
    paper_id="DN121",
    native_size=224,
    min_size=29,  # five halvings: below 29 px the last transition's 2x2 pooling gets a 1x1 map
    builder=lambda num_classes, in_chans: xrv.models.DenseNet(num_classes=num_classes, in_channels=in_chans),
    in_paper=False,
    mean=(0.5, 0.5, 0.5),
    std=(1 / 2048,) * 3,
))
