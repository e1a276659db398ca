"""Colour masks and overlays: the one home of drawing label maps (bottom layer).

Palettes come from :mod:`ffseg.classes`; this module only draws. Images are RGB ``uint8``
``(H, W, 3)`` arrays, PIL images, or ``(3, H, W)`` tensors (float tensors in ``[0, 1]``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from ffseg.classes import Palette

__all__ = ["as_rgb_array", "colorize", "legend", "overlay", "panel"]


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
    labels = _labels(mask)
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


def legend(
    classes: Sequence[str], palette: Palette, *, width: int = 0, present: Sequence[int] = ()
) -> Image.Image:
    """A class legend: a colour swatch and the name of each class, in rows of columns.

    ``present``: draw only these class indices (e.g. those in the shown masks); all by default.
    ``width``: the legend's width in pixels (default: one column per 160 pixels of 4 columns).
    """
    shown = [i for i in (present or range(len(classes))) if 0 <= i < len(classes)]
    column = 160
    width = width or column * min(4, max(1, len(shown)))
    columns = max(1, width // column)
    rows = max(1, -(-len(shown) // columns))
    row_height = 18
    image = Image.new("RGB", (width, rows * row_height + 4), "white")
    draw = ImageDraw.Draw(image)
    for slot, index in enumerate(shown):
        x, y = (slot % columns) * column + 4, (slot // columns) * row_height + 3
        colour = tuple(int(c) for c in palette[index]) if index < len(palette) else (0, 0, 0)
        draw.rectangle((x, y, x + 14, y + 13), fill=colour, outline="black")
        draw.text((x + 20, y + 1), f"{index} {classes[index]}"[:24], fill="black")
    return image


def panel(
    image: np.ndarray | Image.Image | torch.Tensor,
    prediction: np.ndarray | torch.Tensor,
    palette: Palette,
    target: np.ndarray | torch.Tensor | None = None,
    *,
    classes: Sequence[str] = (),
    min_height: int = 256,
    titles: Sequence[str] = ("image", "prediction", "ground truth"),
) -> Image.Image:
    """Image | prediction | ground truth side by side, titled, with a class legend below.

    Small inputs are scaled up (nearest for masks) to at least ``min_height`` pixels so the
    panel is readable; the legend lists the classes present in the masks (``classes`` names
    them; no legend without names).
    """
    base = Image.fromarray(as_rgb_array(image))
    scale = max(1.0, min_height / base.height)
    size = (round(base.width * scale), round(base.height * scale))
    tiles = [
        base.resize(size, Image.BILINEAR),
        colorize(prediction, palette).resize(size, Image.NEAREST),
    ]
    masks = [prediction]
    if target is not None:
        tiles.append(colorize(target, palette).resize(size, Image.NEAREST))
        masks.append(target)
    title_height = 20
    out = Image.new("RGB", (size[0] * len(tiles), size[1] + title_height), "white")
    draw = ImageDraw.Draw(out)
    for i, (tile, title) in enumerate(zip(tiles, titles)):
        out.paste(tile, (i * size[0], title_height))
        draw.text((i * size[0] + 4, 4), title, fill="black")
    if not classes:
        return out
    values = np.unique(np.concatenate([_labels(m).ravel() for m in masks]))
    key = legend(classes, palette, width=out.width, present=[int(v) for v in values if v < 255])
    full = Image.new("RGB", (out.width, out.height + key.height), "white")
    full.paste(out, (0, 0))
    full.paste(key, (0, out.height))
    return full


def _labels(mask: np.ndarray | torch.Tensor) -> np.ndarray:
    return mask.cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
