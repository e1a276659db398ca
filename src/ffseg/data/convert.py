"""Colour-coded (RGB palette) masks -> class-index masks, the format every dataset reads."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ffseg._io import atomic_write
from ffseg.data.datasets.base import IGNORE_INDEX, DataError
from ffseg.data.decode import open_oriented

__all__ = ["ConversionReport", "convert_mask_folder", "rgb_to_index"]


def rgb_to_index(rgb: np.ndarray, palette: Sequence[Sequence[int]]) -> tuple[np.ndarray, int]:
    """An ``(H, W)`` uint8 index mask of an ``(H, W, 3)`` colour mask: pixels of colour
    ``palette[i]`` become ``i``, any other colour :data:`IGNORE_INDEX`; also the count of those."""
    if rgb.ndim != 3 or rgb.shape[-1] < 3:
        raise DataError(f"expected an (H, W, 3) colour mask, got shape {rgb.shape}")
    if len(palette) > IGNORE_INDEX:
        raise DataError(f"a palette of {len(palette)} colours does not fit 8-bit index masks")
    wide = rgb[..., :3].astype(np.int64)
    codes = (wide[..., 0] << 16) | (wide[..., 1] << 8) | wide[..., 2]
    out = np.full(codes.shape, IGNORE_INDEX, np.uint8)
    for index, (r, g, b) in enumerate(palette):
        out[codes == (int(r) << 16 | int(g) << 8 | int(b))] = index
    return out, int((out == IGNORE_INDEX).sum())


@dataclass
class ConversionReport:
    """What :func:`convert_mask_folder` wrote and which pixels matched no palette colour."""

    written: int = 0
    unmatched_pixels: int = 0
    unmatched_files: list[str] = field(default_factory=list)

    def summary(self, out: Path) -> str:
        text = f"wrote {self.written} index mask(s) to {out}"
        if self.unmatched_pixels:
            text += (
                f"; {self.unmatched_pixels} pixel(s) in {len(self.unmatched_files)} file(s) "
                f"matched no palette colour and became {IGNORE_INDEX} (ignored), e.g. "
                f"{self.unmatched_files[0]}"
            )
        return text


def convert_mask_folder(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    palette: Sequence[Sequence[int]],
    suffix: str = ".png",
) -> ConversionReport:
    """Convert every ``*suffix`` colour mask under ``src`` into an index PNG at the same
    relative path under ``out`` (sub-folders kept)."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise DataError(f"mask folder {str(src)!r} does not exist (pass the colour-mask folder)")
    files = sorted(p for p in src.rglob(f"*{suffix}") if p.is_file())
    if not files:
        raise DataError(f"no '*{suffix}' masks under {str(src)!r}; check the folder and suffix")
    report = ConversionReport()
    for path in files:
        try:
            rgb = np.asarray(open_oriented(path)[0].convert("RGB"))
        except OSError as exc:
            raise DataError(f"cannot read mask {str(path)!r}: {exc}") from exc
        index, unmatched = rgb_to_index(rgb, palette)
        target = out / path.relative_to(src).with_suffix(".png")
        atomic_write(target, lambda tmp, a=index: Image.fromarray(a, mode="L").save(tmp, "PNG"))
        report.written += 1
        if unmatched:
            report.unmatched_pixels += unmatched
            report.unmatched_files.append(str(path))
    return report
