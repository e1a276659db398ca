"""Reading images from any source and writing images atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ffseg._io import atomic_write
from ffseg.data.decode import exif_orientation, open_oriented, to_rgb8
from ffseg.viz import as_rgb_array

__all__ = ["ImageInput", "load_image", "save_image"]

#: What :func:`load_image` accepts: a path, a PIL image, an ``(H, W, 3)`` array or a
#: ``(3, H, W)`` tensor (float arrays/tensors in ``[0, 1]``).
ImageInput = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


def load_image(source: ImageInput) -> np.ndarray:
    """An RGB ``uint8`` ``(H, W, 3)`` array from a path, PIL image, ndarray or tensor.

    Files and PIL images come in display orientation (their EXIF rotation applied) and high bit
    depths are scaled to 8 bits (the rule in :mod:`ffseg.data.decode`).
    """
    if isinstance(source, Image.Image):
        if exif_orientation(source) != 1:
            source = ImageOps.exif_transpose(source)
        return np.asarray(to_rgb8(source))
    if not isinstance(source, (str, os.PathLike)):
        return as_rgb_array(source)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        img, _ = open_oriented(path)
        return np.asarray(to_rgb8(img))
    except Exception as exc:
        raise ValueError(
            f"cannot decode image {path}: {exc}. Is it a readable PNG/JPEG? Re-save or skip it."
        ) from exc


def save_image(image: Image.Image, path: str | os.PathLike[str]) -> Path:
    """Write ``image`` atomically in the format its suffix names (``.png``, ``.jpg``, ...)."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the image format of {path}; use a .png or .jpg name")
    return atomic_write(path, lambda tmp: image.save(tmp, format=fmt))
