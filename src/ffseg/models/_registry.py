"""Model registry: register, list and create models by name (timm style).

Every variant is a function decorated with :func:`register_model` whose body only states its
hyper-parameters. Names are lowercase; aliases (such as the official FFNet names) resolve to a
canonical name, and lookups are case-insensitive.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

__all__ = [
    "ModelEntry",
    "UnknownModelError",
    "create_model",
    "get_model_entry",
    "is_model",
    "list_aliases",
    "list_models",
    "register_model",
    "resolve_name",
]

ModelFn = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its canonical name, constructor and the module that defines it."""

    name: str
    fn: ModelFn
    module: str
    aliases: tuple[str, ...] = ()


class UnknownModelError(KeyError):
    """Raised for a model name that is neither registered nor an alias."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


_MODELS: dict[str, ModelEntry] = {}
_ALIASES: dict[str, str] = {}  # lowercase alias -> canonical name
_ALIAS_SPELLING: dict[str, str] = {}  # lowercase alias -> alias as registered


def register_model(
    fn: ModelFn | None = None, *, aliases: Iterable[str] = ()
) -> ModelFn | Callable[[ModelFn], ModelFn]:
    """Register a model constructor under its (lowercase) function name.

    Use as ``@register_model`` or ``@register_model(aliases=("OfficialName",))``.
    """

    def decorate(f: ModelFn) -> ModelFn:
        name = f.__name__
        if name != name.lower():
            raise ValueError(f"model names are lowercase; got {name!r}")
        if name in _MODELS or name in _ALIASES:
            raise ValueError(f"model {name!r} is registered twice")
        alias_tuple = tuple(aliases)
        module = f.__module__.rsplit(".", 1)[-1]
        _MODELS[name] = ModelEntry(name=name, fn=f, module=module, aliases=alias_tuple)
        for alias in alias_tuple:
            key = alias.lower()
            if key in _MODELS or _ALIASES.get(key, name) != name:
                raise ValueError(f"alias {alias!r} of {name!r} is already taken")
            _ALIASES[key] = name
            _ALIAS_SPELLING[key] = alias
        return f

    if fn is not None:
        return decorate(fn)
    return decorate


def _natural_key(name: str) -> list[Any]:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]


def _as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def list_models(
    filter: str | Iterable[str] = "",
    exclude_filters: str | Iterable[str] = (),
    module: str | None = None,
) -> list[str]:
    """Canonical model names matching fnmatch ``filter`` (any of them), naturally sorted."""
    names: Iterable[str] = _MODELS
    if module is not None:
        names = [n for n in names if _MODELS[n].module == module]
    patterns = [p.lower() for p in _as_list(filter) if p]
    if patterns:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    for pattern in _as_list(exclude_filters):
        names = [n for n in names if not fnmatch.fnmatchcase(n, pattern.lower())]
    return sorted(names, key=_natural_key)


def list_aliases(name: str | None = None) -> list[str]:
    """Registered aliases (as spelled at registration), optionally only those of one model."""
    if name is None:
        return sorted(_ALIAS_SPELLING.values(), key=_natural_key)
    canonical = resolve_name(name)
    return list(_MODELS[canonical].aliases)


def is_model(name: str) -> bool:
    """Whether ``name`` is a registered model or alias (case-insensitive)."""
    key = name.lower()
    return key in _MODELS or key in _ALIASES


def resolve_name(name: str) -> str:
    """The canonical name for ``name``; unknown names raise with the closest matches."""
    key = name.lower()
    if key in _MODELS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    candidates = list(_MODELS) + list(_ALIASES)
    close = difflib.get_close_matches(key, candidates, n=5, cutoff=0.6)
    close = [_ALIAS_SPELLING.get(c, c) for c in close]
    hint = f" Closest names: {', '.join(close)}." if close else ""
    raise UnknownModelError(
        f"Unknown model {name!r}.{hint} Run `ffseg list` (or ffseg.list_models()) to see all "
        f"{len(_MODELS)} models."
    )


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry for a model name or alias."""
    return _MODELS[resolve_name(name)]


def create_model(
    name: str,
    pretrained: str | Path | None = None,
    num_classes: int | None = None,
    *,
    features_only: bool = False,
    pretrained_backbone: str | Path | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: canonical name or alias (case-insensitive), e.g. ``"ffnet40s_bbb_mobile"`` or
            ``"segmentation_ffnet40S_BBB_mobile"``.
        pretrained: path to a local checkpoint (``.pth``/``.pt``/``.safetensors``); official files
            load as they are. If ``num_classes`` differs from the checkpoint, only the final
            classifier is re-initialised.
        num_classes: number of output classes (default: the variant's own, e.g. 19).
        features_only: return the encoder only, with ``feature_info`` (channels, reduction).
        pretrained_backbone: path to a checkpoint whose encoder weights initialise this model's
            encoder (e.g. an ImageNet classification checkpoint); the rest stays freshly initialised.
        **kwargs: passed to the variant's constructor.
    """
    from ffseg.models import _weights  # late import: _weights depends on this module

    entry = get_model_entry(name)
    build_kwargs = dict(kwargs)
    if num_classes is not None:
        build_kwargs["num_classes"] = num_classes
    model = entry.fn(**build_kwargs)
    model.model_args = {"name": entry.name, **build_kwargs}
    if pretrained is not None:
        _weights.load_pretrained_weights(model, pretrained)
    if pretrained_backbone is not None:
        _weights.load_backbone_weights(model, pretrained_backbone)
    if features_only:
        if not hasattr(model, "feature_encoder"):
            raise ValueError(f"model {entry.name!r} does not provide features_only")
        return model.feature_encoder()
    return model
