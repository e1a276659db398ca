"""The builder step every family's ``_create_<family>`` calls (timm's ``build_model_with_cfg``).

It instantiates the model class and attaches the variant's registered default cfg, adjusted to
what was built: the class count, and the class names / palette only when that count is the
cfg's own (a 5-class fine-tune of a Cityscapes model has no Cityscapes names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from torch import nn

from ffseg.models._base import PretrainedCfg
from ffseg.models._registry import get_pretrained_cfg

__all__ = ["attach_cfg", "build_model"]

M = TypeVar("M", bound=nn.Module)


def attach_cfg(model: M, cfg: PretrainedCfg) -> M:
    """Set ``model.pretrained_cfg`` to ``cfg`` adjusted to ``model.num_classes``."""
    n = int(getattr(model, "num_classes", cfg.num_classes))
    same = n == cfg.num_classes
    changes: dict[str, Any] = {"num_classes": n}
    if not same:
        changes.update(classes=None, palette=None)
    stride = getattr(model, "output_stride", None)
    if stride is not None:
        changes["output_stride"] = stride
    model.pretrained_cfg = cfg.replace(**changes)
    return model


def build_model(
    model_cls: type[M], variant: str, model_args: Mapping[str, Any] | None = None, **kwargs: Any
) -> M:
    """``model_cls(**model_args, **kwargs)`` (``kwargs`` win) with ``variant``'s cfg attached.

    ``model_args`` are the variant's own hyper-parameters; ``kwargs`` the caller's overrides.
    """
    model = model_cls(**{**(model_args or {}), **kwargs})
    return attach_cfg(model, get_pretrained_cfg(variant))
