"""Building models: ``create_model``, ``save_pretrained`` / ``load_pretrained`` (timm's _factory).

Imports the registry (names, cfgs), the builder and the weights I/O; none of them imports this
module back, so the package has no import cycle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from ffseg._io import atomic_write, atomic_write_json
from ffseg.models import _weights
from ffseg.models._registry import get_model_entry
from ffseg.models._weights import WeightsError, check_fit, read_state_dict

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "create_model",
    "load_model",
    "load_pretrained",
    "save_pretrained",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


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
    entry = get_model_entry(name)
    build_kwargs = dict(kwargs)
    if num_classes is not None:
        build_kwargs["num_classes"] = num_classes
    model = entry.fn(**build_kwargs)
    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is not None:
        model.pretrained_cfg = cfg.replace(architecture=entry.name, model_args=dict(build_kwargs))
    model.model_args = {"name": entry.name, **build_kwargs}  # TRANSITION: use pretrained_cfg
    if pretrained is not None:
        _weights.load_pretrained_weights(model, pretrained)
    if pretrained_backbone is not None:
        _weights.load_backbone_weights(model, pretrained_backbone)
    if features_only:
        if not hasattr(model, "feature_encoder"):
            raise ValueError(f"model {entry.name!r} does not provide features_only")
        return model.feature_encoder()
    return model


def save_pretrained(model: nn.Module, directory: str | Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (atomically) so :func:`load_pretrained` works.

    The model must come from :func:`ffseg.create_model` (its name and arguments are recorded).
    """
    args = getattr(model, "model_args", None)
    if not args:
        raise ValueError(
            "save_pretrained needs a model built with ffseg.create_model (its name and arguments "
            "are stored in config.json); save a custom module with torch.save(state_dict) instead."
        )
    from safetensors.torch import save_file

    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    cfg = getattr(model, "pretrained_cfg", None)
    config = {
        "ffseg_format": 1,
        "model_args": args,
        "pretrained_cfg": cfg.to_dict() if cfg is not None else None,
    }
    atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(state, tmp))
    atomic_write_json(directory / CONFIG_NAME, config)
    return directory


def load_pretrained(directory: str | Path, **overrides: Any) -> nn.Module:
    """Re-create a model saved by :func:`save_pretrained` (strict, bit-exact)."""
    directory = Path(directory)
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        raise WeightsError(
            f"{str(config_path)!r} not found: {str(directory)!r} is not a folder written by "
            "ffseg.save_pretrained (it needs config.json and model.safetensors)."
        )
    try:
        config = json.loads(config_path.read_text())
        args = dict(config["model_args"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"{str(config_path)!r} is not a valid ffseg config: {exc}") from exc
    name = args.pop("name")
    args.update(overrides)
    model = create_model(name, **args)
    state = read_state_dict(directory / WEIGHTS_NAME)
    check_fit(model, model.state_dict(), state, directory / WEIGHTS_NAME)
    model.load_state_dict(state, strict=True)
    return model


def load_model(
    weights: str | Path | None = None,
    *,
    name: str | None = None,
    num_classes: int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """The one model loader behind every verb and the distillation teacher.

    ``weights`` may be a :func:`save_pretrained` folder (``name`` optional, checked if given) or
    a checkpoint file (``name`` required). Without ``weights`` a freshly initialised ``name``.
    """
    if weights is not None and Path(weights).is_dir():
        model = load_pretrained(weights)
        if num_classes is not None and num_classes != getattr(model, "num_classes", num_classes):
            raise WeightsError(
                f"{str(weights)!r} holds a {model.num_classes}-class model but "
                f"{num_classes} classes were asked for; drop --num-classes or pass matching weights"
            )
        return model
    if name is None:
        raise ValueError("a model name is needed to load a checkpoint file (pass --model NAME)")
    return create_model(name, pretrained=weights, num_classes=num_classes, **kwargs)
