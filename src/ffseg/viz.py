"""Colour masks, overlays and index-mask files: the one home of drawing and writing label
maps (bottom layer).

Palettes come from :mod:`ffseg.classes`; this module only draws. Images are RGB ``uint8``
``(H, W, 3)`` arrays, PIL images, or ``(3, H, W)`` tensors (float tensors in ``[0, 1]``).
Every index mask ffseg writes goes through :func:`write_index_mask`: values up to 255 as an
8-bit PNG, larger values (more than 255 classes) as a 16-bit PNG, never wrapped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ffseg._io import atomic_write
from ffseg.classes import Palette

__all__ = [
    "MASK_FORMATS",
    "as_rgb_array",
    "colorize",
    "index_mask_image",
    "legend",
    "overlay",
    "panel",
    "write_index_mask",
]

#: How :func:`write_index_mask` stores labels: grey index values, or a palette PNG whose
#: pixel values are the same indices but which viewers show in the class colours.
MASK_FORMATS = ("index", "palette")


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
    *,
    classes: Sequence[str] = (),
) -> Image.Image:
    """The image blended with its colour mask (``alpha`` = weight of the mask).

    With two classes (a binary task) class 0, the background, is left untinted, as are
    ignored pixels (255). ``classes``: names for a legend of the classes shown, drawn below
    the image (none without names).
    """
    base = Image.fromarray(as_rgb_array(image))
    labels = _labels(mask)
    colours = colorize(labels, palette)
    blend = Image.blend(base, colours.resize(base.size, Image.NEAREST), alpha)
    untinted = labels >= len(palette)
    if len(palette) == 2:
        untinted |= labels == 0
    if untinted.any():
        keep = Image.fromarray(untinted.astype(np.uint8) * 255).resize(base.size, Image.NEAREST)
        blend.paste(base, (0, 0), keep)
    if not classes:
        return blend
    shown = [int(v) for v in np.unique(labels) if v < len(classes)]
    key = legend(classes, palette, width=max(blend.width, 160), present=shown)
    full = Image.new("RGB", (max(blend.width, key.width), blend.height + key.height), "white")
    full.paste(blend, (0, 0))
    full.paste(key, (0, blend.height))
    return full


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


def index_mask_image(
    mask: np.ndarray | torch.Tensor, palette: Palette | None = None
) -> Image.Image:
    """A label mask as an image that keeps every value exactly: 8-bit grey (``L``) when all
    values fit in 0..255, else 16-bit grey (``I;16``, up to 65535); with ``palette``, an 8-bit
    palette image (``P``) holding the same indices, shown in the class colours."""
    labels = _labels(mask)
    if labels.ndim != 2:
        raise ValueError(f"an index mask is (H, W), got shape {labels.shape}")
    if np.issubdtype(labels.dtype, np.floating) and not np.array_equal(labels, labels.round()):
        raise ValueError("an index mask holds whole class indices, got fractional values")
    low = int(labels.min()) if labels.size else 0
    high = int(labels.max()) if labels.size else 0
    if low < 0 or high > 65535:
        raise ValueError(f"index mask values {low}..{high} do not fit 0..65535")
    if palette is None:
        return Image.fromarray(labels.astype(np.uint8 if high <= 255 else np.uint16))
    if high > 255:
        raise ValueError(
            f"a palette mask holds values 0..255, but this one reaches {high} (more than 256 "
            "classes): write it with mask format 'index' (a 16-bit PNG)"
        )
    table = np.zeros((256, 3), np.uint8)
    table[: min(len(palette), 256)] = np.asarray(palette, np.uint8)[:256]
    image = Image.frombytes(
        "P", (labels.shape[1], labels.shape[0]), labels.astype(np.uint8).tobytes()
    )
    image.putpalette(table.ravel().tolist())
    return image


def write_index_mask(
    path: str | os.PathLike[str],
    mask: np.ndarray | torch.Tensor,
    palette: Palette | None = None,
) -> Path:
    """Write ``mask`` atomically as a lossless PNG (see :func:`index_mask_image`): the one
    writer of ffseg's index masks. ``palette`` given: a palette PNG (``--mask-format palette``)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"index masks are written as lossless .png files, not {path.name!r}")
    image = index_mask_image(mask, palette)
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


def _labels(mask: np.ndarray | torch.Tensor) -> np.ndarray:
    return mask.cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
