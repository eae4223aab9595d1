"""Inception-ResNet-v2 (Szegedy et al. 2017) as timm builds it, from scratch."""
import timm

from cxrbench.models.registry import ModelSpec, register_model

register_model(ModelSpec(
    name="irv2",
    timm_name="inception_resnet_v2",
    paper_id="IR2",
    native_size=299,
    min_size=75,  # below this the stem's valid convolutions run out of pixels
    builder=lambda num_classes, in_chans: timm.create_model(
        "inception_resnet_v2", pretrained=False, num_classes=num_classes, in_chans=in_chans),
))
