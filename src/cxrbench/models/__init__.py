"""Backbones, pooling variants and the classifier wrapper."""
from cxrbench.models import external, irv2, nasnet, xrv_densenet  # noqa: F401  (register the families)
from cxrbench.models.factory import CXRClassifier, ModelIdentity, create_model
from cxrbench.models.pooling import POOLING_MODES, apply_pooling, max_pool_modules, replace_max_pooling
from cxrbench.models.registry import ModelSpec, check_model_config, get_model_spec, list_models, register_model

__all__ = [
    "CXRClassifier", "ModelIdentity", "ModelSpec", "POOLING_MODES", "apply_pooling", "check_model_config", "create_model",
    "get_model_spec", "list_models", "max_pool_modules", "register_model", "replace_max_pooling",
]
