"""Model registry and every model family.

Importing this package imports every public module in it, which registers its variants: a new
family is one new file here, nothing else to edit.
"""

import importlib
import pkgutil

from ffseg.models._base import AuxOutput, FeatureInfo, PretrainedCfg, SegModel, SegOutput
from ffseg.models._factory import create_model, load_model, load_pretrained, save_pretrained
from ffseg.models._registry import (
    UnknownModelError,
    get_model_entry,
    get_pretrained_cfg,
    is_model,
    list_aliases,
    list_models,
    model_index,
    name_of_build,
    register_model,
    resolve_name,
)
from ffseg.models._weights import (
    WeightsError,
    load_backbone_weights,
    load_pretrained_weights,
    read_state_dict,
)
from ffseg.models.ffnet import FFNet, FFNetSpec, parse_ffnet_name

__all__ = [
    "AuxOutput",
    "FFNet",
    "FFNetSpec",
    "FeatureInfo",
    "PretrainedCfg",
    "SegModel",
    "SegOutput",
    "UnknownModelError",
    "WeightsError",
    "create_model",
    "get_model_entry",
    "get_pretrained_cfg",
    "is_model",
    "list_aliases",
    "list_models",
    "load_backbone_weights",
    "load_model",
    "load_pretrained",
    "load_pretrained_weights",
    "model_index",
    "name_of_build",
    "parse_ffnet_name",
    "read_state_dict",
    "register_model",
    "resolve_name",
    "save_pretrained",
]


def _import_families() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_import_families()
