"""The segmentation dataset base class, file readers and label lookup tables.

Every dataset returns ``(image, mask)``: ``tv_tensors.Image`` uint8 ``[3, H, W]`` and
``tv_tensors.Mask`` int64 ``[H, W]`` whose values are class indices or ``ignore_index`` (255).
Raw mask values are mapped through a 256-entry lookup table (LUT) at load time; a raw value the
LUT does not know raises :class:`DataError` instead of silently becoming a wrong label.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors

from ffseg.classes import generate_palette
from ffseg.data.decode import open_oriented, to_rgb8

__all__ = [
    "IGNORE_INDEX",
    "ColourMaskError",
    "DataError",
    "FileSegDataset",
    "SegDataset",
    "apply_lut",
    "generate_palette",
    "identity_lut",
    "image_tensor",
    "invalid_values_message",
    "lut_from_mapping",
    "open_checked",
    "read_image",
    "read_mask",
    "require_dir",
    "unique_sample_names",
]

IGNORE_INDEX = 255
INVALID = -1  # LUT entry of a raw value that is neither a class nor ignored
#: Image formats whose compression changes pixel values (refused as masks).
LOSSY_FORMATS = ("JPEG", "MPO", "JPEG2000")

Transform = Callable[[Any, Any], tuple[Any, Any]]


class DataError(ValueError):
    """A dataset file or folder is missing, unreadable, or holds values that do not fit."""


class ColourMaskError(DataError):
    """A mask file is a colour (RGB) image instead of class indices."""


def require_dir(path: str | Path, what: str, hint: str = "") -> Path:
    """``path`` as a ``Path`` if it is a directory, else a :class:`DataError` saying what to do."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError(
            f"{what} {str(path)!r} does not exist or is not a directory. "
            f"{hint or 'Check the --root / path you passed.'}"
        )
    return path


def open_checked(path: str | Path, kind: str) -> tuple[Image.Image, int]:
    """``path`` decoded in display orientation (EXIF applied) and its EXIF orientation tag;
    a missing or corrupt file raises :class:`DataError` naming it (``kind``: Image / Mask)."""
    path = Path(path)
    try:
        return open_oriented(path)
    except FileNotFoundError:
        raise DataError(f"{kind} file {str(path)!r} not found (listed but missing).") from None
    except Exception as exc:  # PIL raises OSError / SyntaxError / ValueError on bad files
        raise DataError(
            f"Cannot read {kind.lower()} file {str(path)!r}: {type(exc).__name__}: {exc}. "
            "The file is truncated or corrupt: re-extract or re-download it, or remove it "
            "from the dataset (`ffseg check-data` lists every bad file)."
        ) from exc


def image_tensor(img: Image.Image) -> tv_tensors.Image:
    """A decoded image as a ``tv_tensors.Image`` uint8 ``[3, H, W]`` (RGB, 8 bits)."""
    arr = np.asarray(to_rgb8(img))
    return tv_tensors.Image(torch.from_numpy(arr.copy()).permute(2, 0, 1))


def read_image(path: str | Path) -> tv_tensors.Image:
    """Decode an image file to a ``tv_tensors.Image`` uint8 ``[3, H, W]`` (RGB) in display
    orientation, high bit depths scaled (see :mod:`ffseg.data.decode`)."""
    return image_tensor(open_checked(path, "Image")[0])


def read_mask(path: str | Path) -> np.ndarray:
    """Decode a label file to a 2-D integer array of raw values (palette indices for 'P' PNGs).

    Refuses, naming the file, a value and the fix: colour images, lossy (JPEG) files, and
    floating-point or negative values (masks hold class indices).
    """
    img = open_checked(path, "Mask")[0]
    name = str(path)
    if img.mode in ("RGB", "RGBA"):
        raise ColourMaskError(
            f"Mask file {name!r} is a colour ({img.mode}) image, but masks must hold one "
            "class index per pixel (8-bit grey or palette PNG). Convert colour-coded masks to "
            "index masks first: ffseg convert-masks --src DIR --out DIR2 --palette dataset.yaml"
        )
    if img.format in LOSSY_FORMATS:
        raise DataError(
            f"Mask file {name!r} is a {img.format} (lossy) image: its compression changes "
            "label values along every edge. Save masks as PNG (lossless) from the labelling "
            "tool; converting this JPEG would keep the noise."
        )
    arr = np.asarray(img)
    if arr.ndim != 2:
        raise DataError(f"Mask file {name!r} has shape {arr.shape}; expected H x W.")
    if np.issubdtype(arr.dtype, np.floating):
        odd = arr[arr != np.round(arr)]
        shown = f"e.g. {float(odd.flat[0]):g}" if odd.size else "whole numbers stored as floats"
        raise DataError(
            f"Mask file {name!r} holds floating-point values ({shown}); masks hold integer "
            "class indices: save it as an 8-bit (or 16-bit) integer PNG."
        )
    if arr.size and np.issubdtype(arr.dtype, np.signedinteger) and arr.min() < 0:
        raise DataError(
            f"Mask file {name!r} holds the negative value {int(arr.min())}; masks hold class "
            f"indices 0..N-1 and {IGNORE_INDEX} for ignored pixels: save it with those values "
            "as an 8-bit (or 16-bit) PNG."
        )
    return arr


def identity_lut(num_classes: int, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """LUT keeping values ``0..num_classes-1`` and ``ignore_index``; anything else is invalid."""
    if not 0 < num_classes <= 255:
        raise DataError(
            f"{num_classes} classes: a dataset holds 1..255 classes, since mask value "
            f"{IGNORE_INDEX} means ignore; merge classes, or map raw values with a label_map"
        )
    lut = np.full(256, INVALID, dtype=np.int16)
    lut[:num_classes] = np.arange(num_classes)
    lut[ignore_index] = ignore_index
    return lut


def lut_from_mapping(mapping: Mapping[int, int], size: int | None = None) -> np.ndarray:
    """LUT from ``{raw value: class index or 255}``; unlisted values are invalid.

    ``size``: raw values the LUT covers (default: 256, more when a key is larger).
    """
    if size is None:
        size = max([256, *(int(k) + 1 for k in mapping)])
    lut = np.full(size, INVALID, dtype=np.int16)
    for raw, target in mapping.items():
        if not 0 <= int(raw) < size:
            raise ValueError(f"label_map key {raw} is outside 0..{size - 1}")
        lut[int(raw)] = int(target)
    return lut


def apply_lut(raw: np.ndarray, lut: np.ndarray, path: str | Path, hint: str = "") -> np.ndarray:
    """Map raw mask values through ``lut``; raise :class:`DataError` listing invalid values."""
    raw_i = raw.astype(np.int64, copy=False)
    if raw_i.size and (raw_i.min() < 0 or raw_i.max() >= len(lut)):
        bad_vals = np.unique(raw_i[(raw_i < 0) | (raw_i >= len(lut))])
        mapped = None
    else:
        mapped = lut[raw_i]
        bad_vals = np.unique(raw_i[mapped == INVALID]) if (mapped == INVALID).any() else None
    if bad_vals is not None and len(bad_vals):
        raise DataError(invalid_values_message(path, bad_vals, lut, hint))
    assert mapped is not None
    return mapped.astype(np.int64)


def invalid_values_message(
    path: str | Path, bad_vals: np.ndarray, lut: np.ndarray, hint: str = ""
) -> str:
    """The one-line refusal of mask values ``bad_vals`` that ``lut`` maps to no class."""
    valid = np.flatnonzero(lut != INVALID)
    shown = ", ".join(str(v) for v in bad_vals[:10]) + (" ..." if len(bad_vals) > 10 else "")
    return (
        f"Mask {str(path)!r} contains value(s) {shown} that map to no class and are not "
        f"the ignore index (accepted raw values: {_ranges(valid)}). "
        f"{hint or 'Fix the mask, or pass a label_map / the right num_classes.'}"
    )


def _ranges(values: Iterable[int]) -> str:
    values = sorted(int(v) for v in values)
    parts: list[str] = []
    start = prev = None
    for v in [*values, None]:
        if v is not None and prev is not None and v == prev + 1:
            prev = v
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = v
    return ", ".join(parts)


class SegDataset(Dataset):
    """Base of every segmentation dataset.

    Subclasses set ``classes`` / ``palette`` and implement :meth:`load` and :meth:`__len__`;
    ``__getitem__`` applies ``transforms(image, mask)`` when given.
    """

    classes: tuple[str, ...] = ()
    palette: tuple[tuple[int, int, int], ...] = ()
    ignore_index: int = IGNORE_INDEX

    def __init__(self, transforms: Transform | None = None) -> None:
        self.transforms = transforms

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
        """The untransformed ``(image, mask)`` pair of sample ``index``."""
        raise NotImplementedError

    def sample_name(self, index: int) -> str:
        """A short, unique, file-system-safe name of sample ``index`` (used for predictions)."""
        return f"{index:06d}"

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, mask = self.load(index)
        if self.transforms is not None:
            return self.transforms(image, mask)
        return image, mask

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)}, num_classes={self.num_classes})"


def unique_sample_names(paths: Sequence[Path]) -> list[str]:
    """One distinct name per image: its stem, or, where stems repeat, its POSIX path below the
    images' common folder without the suffix (with the suffix where even that repeats)."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    root = Path(os.path.commonpath([str(p.parent.resolve()) for p in paths]))
    names = [p.resolve().relative_to(root).with_suffix("").as_posix() for p in paths]
    if len(set(names)) == len(names):
        return names
    return [p.resolve().relative_to(root).as_posix() for p in paths]


class FileSegDataset(SegDataset):
    """A dataset of ``(image file, mask file)`` pairs with a raw-value LUT.

    ``mask`` may be ``None`` for unlabelled images (the mask is then all ``ignore_index``).
    """

    #: Appended to the invalid-value error (what the user should check for this dataset).
    label_hint: str = ""

    def __init__(
        self,
        samples: Sequence[tuple[Path, Path | None]],
        lut: np.ndarray,
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(transforms)
        self.samples = list(samples)
        self.lut = lut
        self._names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def sample_name(self, index: int) -> str:
        """The image's file stem; where stems repeat (images of one name in sub-folders), its
        path below the images' common folder (``city_a/0001``), so saved predictions never
        overwrite each other and mirror the sub-folders."""
        if self._names is None:
            self._names = unique_sample_names([image for image, _ in self.samples])
        return self._names[index]

    def mask_path(self, index: int) -> Path | None:
        """The label file of sample ``index`` (overridable, e.g. by pseudo labels)."""
        return self.samples[index][1]

    def mask_lut(self, index: int) -> np.ndarray:
        """The LUT for sample ``index``'s label file."""
        return self.lut

    def load(self, index: int) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
        img_path = self.samples[index][0]
        image = read_image(img_path)
        mask_path = self.mask_path(index)
        h, w = image.shape[-2:]
        if mask_path is None:
            return image, tv_tensors.Mask(torch.full((h, w), self.ignore_index, dtype=torch.int64))
        raw = read_mask(mask_path)
        if raw.shape != (h, w):
            raise DataError(
                f"Mask {str(mask_path)!r} is {raw.shape[0]}x{raw.shape[1]} (HxW) but its image "
                f"{str(img_path)!r} is {h}x{w}. Image and mask must have the same size: check "
                "the pairing (list file / suffixes) or resize the mask with nearest interpolation."
            )
        mask = apply_lut(raw, self.mask_lut(index), mask_path, self.label_hint)
        return image, tv_tensors.Mask(torch.from_numpy(mask))
