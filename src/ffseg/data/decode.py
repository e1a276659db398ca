"""Decoding image files as the user sees them: EXIF orientation applied, high bit depths scaled.

Every ffseg reader of image and mask files (datasets, ``check-data``, ``convert-masks``,
``predict`` / :class:`~ffseg.inference.Segmenter`) opens files through :func:`open_oriented`
and turns images into 8-bit RGB with :func:`to_rgb8`.

**High bit depth rule.** Images with more than 8 bits per sample (16-bit grey PNG / TIFF,
Pillow modes ``I;16*``, ``I`` and ``F``) are scaled to 8 bits, never clipped. Integer images
with no negative value are divided by the full scale of the smallest standard depth that holds
their largest value (8, 10, 12, 14, 16, 24 or 32 bits): a 12-bit camera image (values up to
4095) is multiplied by 255 / 4095. Float images in ``[0, 1]`` are multiplied by 255; any other
integer or float image is stretched from its own minimum to its own maximum. 16-bit colour
images are reduced to 8 bits by Pillow (the top 8 bits of each sample).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

__all__ = [
    "HIGH_BIT_MODES",
    "IMAGE_SUFFIXES",
    "exif_orientation",
    "is_image_file",
    "open_oriented",
    "scale_to_uint8",
    "swaps_sides",
    "to_rgb8",
]

#: The image file suffixes ffseg reads wherever it lists a folder (matched in any case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Pillow modes holding more than 8 bits per sample (scaled by :func:`scale_to_uint8`).
HIGH_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_DEPTHS = (8, 10, 12, 14, 16, 24, 32)
_ROTATING = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def is_image_file(path: Path) -> bool:
    """Whether ``path`` names a file with one of :data:`IMAGE_SUFFIXES` (any case)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation tag of ``img`` (1 = as stored, 6 / 8 = rotated 90°, ...)."""
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block is no orientation
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def open_oriented(path: str | Path) -> tuple[Image.Image, int]:
    """Open and decode ``path`` in display orientation; also its EXIF orientation tag.

    Raises what ``PIL.Image.open`` / ``load`` raise on missing or corrupt files.
    """
    img = Image.open(path)
    img.load()  # decode now so truncated files fail here
    orientation = exif_orientation(img)
    if orientation != 1:
        fmt = img.format
        img = ImageOps.exif_transpose(img)
        img.format = fmt  # the file's format (e.g. JPEG) stays known
    return img, orientation


def swaps_sides(orientation: int) -> bool:
    """Whether EXIF ``orientation`` turns a W x H stored image into H x W."""
    return orientation in _ROTATING


def scale_to_uint8(array: np.ndarray) -> np.ndarray:
    """``array`` (one image, any integer or float dtype) as ``uint8`` by the high bit depth
    rule of this module (never clipped)."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        values = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        if low >= 0.0 and high <= 1.0:
            return np.round(values * 255.0).astype(np.uint8)
    else:
        values = array.astype(np.int64)
        low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
        if low >= 0:
            bits = next((d for d in _DEPTHS if high < 2**d), 64)
            return np.round(values * (255.0 / (2**bits - 1))).astype(np.uint8)
    span = high - low
    if span <= 0:
        return np.zeros(array.shape, np.uint8)
    return np.round((values - low) * (255.0 / span)).astype(np.uint8)


def to_rgb8(img: Image.Image) -> Image.Image:
    """``img`` as an 8-bit RGB image; high-bit-depth images are scaled (see the module)."""
    if img.mode in HIGH_BIT_MODES:
        return Image.fromarray(scale_to_uint8(np.asarray(img))).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")
