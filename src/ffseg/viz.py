"""Colour masks and overlays: the one home of drawing label maps (bottom layer).

Palettes come from :mod:`ffseg.classes`; this module only draws. Images are RGB ``uint8``
``(H, W, 3)`` arrays, PIL images, or ``(3, H, W)`` tensors (float tensors in ``[0, 1]``).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ffseg.classes import Palette

__all__ = ["as_rgb_array", "colorize", "overlay"]


def as_rgb_array(image: np.ndarray | Image.Image | torch.Tensor) -> np.ndarray:
    """An RGB ``uint8`` ``(H, W, 3)`` array from an array, PIL image or ``(3, H, W)`` tensor."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.ndim != 3 or t.shape[0] not in (1, 3):
            raise ValueError(f"expected a (3, H, W) image tensor, got shape {tuple(t.shape)}")
        if t.is_floating_point():
            t = (t.clamp(0, 1) * 255).round()
        array = t.to(torch.uint8).permute(1, 2, 0).numpy()
    else:
        array = np.asarray(image)
        if array.dtype != np.uint8:
            if np.issubdtype(array.dtype, np.floating):
                array = np.clip(array * 255.0, 0, 255).round()
            array = array.astype(np.uint8)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {array.shape}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return np.ascontiguousarray(array[..., :3])


def colorize(mask: np.ndarray | torch.Tensor, palette: Palette) -> Image.Image:
    """An RGB image of a label mask; labels outside the palette (e.g. 255) are black."""
    labels = mask.cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: len(palette)] = np.asarray(palette, dtype=np.uint8)[:256]
    return Image.fromarray(table[np.clip(labels, 0, 255).astype(np.uint8)], mode="RGB")


def overlay(
    image: np.ndarray | Image.Image | torch.Tensor,
    mask: np.ndarray | torch.Tensor,
    palette: Palette,
    alpha: float = 0.5,
) -> Image.Image:
    """The image blended with its colour mask (``alpha`` = weight of the mask)."""
    base = Image.fromarray(as_rgb_array(image))
    colours = colorize(mask, palette)
    if colours.size != base.size:
        colours = colours.resize(base.size, Image.NEAREST)
    return Image.blend(base, colours, alpha)
