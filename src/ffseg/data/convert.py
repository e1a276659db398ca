"""Colour-coded (RGB palette) masks -> class-index masks, the format every dataset reads."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ffseg.data.datasets.base import IGNORE_INDEX, DataError
from ffseg.data.decode import open_oriented
from ffseg.viz import write_index_mask

__all__ = ["ConversionReport", "convert_mask_folder", "rgb_to_index"]


Colour = tuple[int, int, int]


def rgb_to_index(
    rgb: np.ndarray, palette: Sequence[Sequence[int]]
) -> tuple[np.ndarray, dict[Colour, int]]:
    """An ``(H, W)`` uint8 index mask of an ``(H, W, 3)`` colour mask: pixels of colour
    ``palette[i]`` become ``i``, any other colour :data:`IGNORE_INDEX`; also
    ``{unmatched colour: pixel count}``."""
    if rgb.ndim != 3 or rgb.shape[-1] < 3:
        raise DataError(f"expected an (H, W, 3) colour mask, got shape {rgb.shape}")
    if len(palette) > IGNORE_INDEX:
        raise DataError(
            f"a palette of {len(palette)} colours does not fit index masks whose value "
            f"{IGNORE_INDEX} means ignore: use at most {IGNORE_INDEX} classes"
        )
    wide = rgb[..., :3].astype(np.int64)
    codes = (wide[..., 0] << 16) | (wide[..., 1] << 8) | wide[..., 2]
    out = np.full(codes.shape, IGNORE_INDEX, np.uint8)
    matched = np.zeros(codes.shape, bool)
    for index, (r, g, b) in enumerate(palette):
        hit = codes == (int(r) << 16 | int(g) << 8 | int(b))
        out[hit] = index
        matched |= hit
    values, counts = np.unique(codes[~matched], return_counts=True)
    unmatched = {_colour(int(v)): int(n) for v, n in zip(values, counts)}
    return out, unmatched


def _colour(code: int) -> Colour:
    return (code >> 16) & 255, (code >> 8) & 255, code & 255


@dataclass
class ConversionReport:
    """What :func:`convert_mask_folder` wrote and which colours matched no palette entry."""

    written: int = 0
    unmatched: dict[Colour, int] = field(default_factory=dict)
    unmatched_files: list[str] = field(default_factory=list)

    @property
    def unmatched_pixels(self) -> int:
        return sum(self.unmatched.values())

    def summary(self, out: Path, shown: int = 10) -> str:
        text = f"wrote {self.written} index mask(s) to {out}"
        if self.unmatched:
            top = sorted(self.unmatched.items(), key=lambda kv: (-kv[1], kv[0]))
            listed = ", ".join(f"{list(c)}: {n}" for c, n in top[:shown])
            more = f" and {len(top) - shown} more" if len(top) > shown else ""
            text += (
                f"; {self.unmatched_pixels} pixel(s) in {len(self.unmatched_files)} file(s) "
                f"matched no palette colour and became {IGNORE_INDEX} (ignored), e.g. "
                f"{self.unmatched_files[0]}; colours [r, g, b]: pixels: {listed}{more} "
                "(add a colour to the palette to keep it as a class)"
            )
        return text


def _refuse_unsafe_output(src: Path, out: Path, files: Sequence[Path]) -> list[Path]:
    """The targets of ``files`` under ``out``; refuses, before any write, an ``out`` equal to
    or inside ``src``, a target that is a source file, and links on the way to a target."""
    real_src, real_out = src.resolve(), out.resolve()
    if real_out == real_src or real_src in real_out.parents:
        raise DataError(
            f"--out {str(out)!r} is --src {str(src)!r} or inside it: the index masks would "
            f"overwrite or mix with the colour masks; pass a folder outside --src, e.g. "
            f"{str(real_src.parent / (real_src.name + '_out'))!r}"
        )
    sources = {p.resolve() for p in files}
    targets = [out / p.relative_to(src).with_suffix(".png") for p in files]
    for target in targets:
        for path in [target, *target.parents]:
            if path.is_symlink():
                raise DataError(
                    f"{str(path)!r} (on the way to writing {str(target)!r}) is a symbolic "
                    "link, which convert-masks does not follow; remove it or pass --out a "
                    "folder without links"
                )
            if path == out:
                break
        if target.resolve() in sources:
            raise DataError(
                f"writing {str(target)!r} would overwrite the colour mask it is made from; "
                "pass --out a folder outside --src"
            )
    return targets


def convert_mask_folder(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    palette: Sequence[Sequence[int]],
    suffix: str = ".png",
) -> ConversionReport:
    """Convert every ``*suffix`` colour mask under ``src`` (any case) into an index PNG at the
    same relative path under ``out`` (sub-folders kept).

    Refused before any write: an ``out`` equal to or inside ``src``, a target that is a source
    file, and symbolic links under ``out`` (convert-masks never writes through a link it did
    not create). Linked source files and folders are not read either.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise DataError(f"--src {str(src)!r} is not a folder; pass the folder of colour masks")
    ending = suffix.lower()
    files = sorted(
        p
        for p in src.rglob("*")
        if p.name.lower().endswith(ending) and p.is_file() and not _linked(p, src)
    )
    if not files:
        raise DataError(
            f"no '*{suffix}' masks under --src {str(src)!r}; check the folder and --suffix"
        )
    targets = _refuse_unsafe_output(src, out, files)
    report = ConversionReport()
    for path, target in zip(files, targets):
        try:
            rgb = np.asarray(open_oriented(path)[0].convert("RGB"))
        except OSError as exc:
            raise DataError(
                f"cannot read mask {str(path)!r}: {exc}; re-export or remove it"
            ) from exc
        index, unmatched = rgb_to_index(rgb, palette)
        write_index_mask(target, index)
        report.written += 1
        if unmatched:
            for colour, count in unmatched.items():
                report.unmatched[colour] = report.unmatched.get(colour, 0) + count
            report.unmatched_files.append(str(path))
    return report


def _linked(path: Path, root: Path) -> bool:
    """Whether ``path`` or a folder between it and ``root`` is a symbolic link."""
    folders = [root / p for p in path.relative_to(root).parents if p != Path(".")]
    return path.is_symlink() or any(f.is_symlink() for f in folders)
