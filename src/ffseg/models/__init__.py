"""Model registry and every model family (importing a family registers its variants)."""

from ffseg.models import ffnet  # noqa: F401  (registers the FFNet variants)
from ffseg.models._base import AuxOutput, FeatureInfo, PretrainedCfg, SegOutput
from ffseg.models._registry import (
    UnknownModelError,
    create_model,
    get_model_entry,
    is_model,
    list_aliases,
    list_models,
    register_model,
    resolve_name,
)
from ffseg.models._weights import (
    WeightsError,
    load_backbone_weights,
    load_pretrained,
    load_pretrained_weights,
    save_pretrained,
)
from ffseg.models.ffnet import FFNet

__all__ = [
    "AuxOutput",
    "FFNet",
    "FeatureInfo",
    "PretrainedCfg",
    "SegOutput",
    "UnknownModelError",
    "WeightsError",
    "create_model",
    "get_model_entry",
    "is_model",
    "list_aliases",
    "list_models",
    "load_backbone_weights",
    "load_pretrained",
    "load_pretrained_weights",
    "register_model",
    "resolve_name",
    "save_pretrained",
]
