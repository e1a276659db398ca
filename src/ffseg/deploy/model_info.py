"""What deployment needs to know about a model, read in one place.

Its name (``pretrained_cfg.architecture``), native input size, minimum input size and whether
its graph works with dynamic shapes (``SegModel.supports_dynamic_shapes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ffseg.engine.evaluate import network_input_size

__all__ = [
    "FALLBACK_INPUT_SIZE",
    "check_input_size",
    "has_argmax_switches",
    "input_size_of",
    "model_name",
    "supports_dynamic_shapes",
]

#: Input size (H, W) assumed for a plain module that carries no ``pretrained_cfg``.
FALLBACK_INPUT_SIZE = (512, 512)


def model_name(model: Any) -> str:
    """The registered name (``pretrained_cfg.architecture``), else the class name."""
    cfg = getattr(model, "pretrained_cfg", None)
    return getattr(cfg, "architecture", "") or type(model).__name__


def input_size_of(model: Any, size: Sequence[int] | None = None) -> tuple[int, int]:
    """``size`` as ``(H, W)`` when given, else the model's native input size: the input-size
    rule of :func:`ffseg.engine.evaluate.network_input_size` (:data:`FALLBACK_INPUT_SIZE` for a
    module without ``pretrained_cfg``)."""
    return network_input_size(model, size) or FALLBACK_INPUT_SIZE


def supports_dynamic_shapes(model: Any) -> bool:
    """Whether an export with dynamic height/width reproduces the model at other sizes."""
    return bool(getattr(model, "supports_dynamic_shapes", True))


def has_argmax_switches(model: Any) -> bool:
    """Whether the output moves values by argmax choices (see ``SegModel.argmax_switches``)."""
    return bool(getattr(model, "argmax_switches", False))


def check_input_size(model: Any, size: Sequence[int]) -> None:
    """Raise ``ValueError`` when ``(H, W)`` is below the model's ``min_input_size``."""
    cfg = getattr(model, "pretrained_cfg", None)
    min_h, min_w = getattr(cfg, "min_input_size", (1, 1)) if cfg is not None else (1, 1)
    h, w = int(size[0]), int(size[1])
    if h < min_h or w < min_w:
        raise ValueError(
            f"input size {h}x{w} is smaller than the minimum {min_h}x{min_w} of model "
            f"{model_name(model)}; use an input of at least {min_h}x{min_w} "
            f"(e.g. --input-size {min_h} {min_w})"
        )
