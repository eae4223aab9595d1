"""NASNet-A Large (Zoph et al. 2018) as timm builds it, from scratch."""
import timm

from cxrbench.models.registry import ModelSpec, register_model

register_model(ModelSpec(
    name="nasnet",
    timm_name="nasnetalarge",
    paper_id="NL",
    native_size=331,
    min_size=32,
    builder=lambda num_classes, in_chans: timm.create_model(
        "nasnetalarge", pretrained=False, num_classes=num_classes, in_chans=in_chans),
))
