"""Scan a whole dataset and report every problem (``ffseg check-data``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset

from ffseg.data.datasets.base import (
    INVALID,
    ColourMaskError,
    DataError,
    FileSegDataset,
    SegDataset,
    invalid_values_message,
    open_checked,
    read_mask,
)
from ffseg.data.decode import swaps_sides

__all__ = ["DataReport", "check_dataset"]


@dataclass
class DataReport:
    """What a scan found: sample count, per-class pixel counts and every problem."""

    name: str
    classes: tuple[str, ...]
    num_samples: int = 0
    class_pixels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ignore_pixels: int = 0
    image_sizes: dict[tuple[int, int], int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    raw_values: set[int] = field(default_factory=set)
    rotated: list[str] = field(default_factory=list)
    colour_masks: list[str] = field(default_factory=list)

    @property
    def absent(self) -> list[str]:
        """The classes with no pixel in any mask."""
        counts = self.class_pixels.tolist()
        return [c for c, n in zip(self.classes, counts) if n == 0] if self.num_samples else []

    @property
    def label_problems(self) -> list[str]:
        """Classes left without pixels by masks in another encoding (0/255, colours, raw ids)."""
        if not self.absent:
            return []
        absent = f"{len(self.absent)} class(es) have no pixels: {', '.join(self.absent[:10])}"
        if self.raw_values <= {0, 255} and 255 in self.raw_values:
            return [
                f"{absent}: the masks hold only 0 and 255, and 255 is the ignore index; if 255 "
                "marks the foreground, map it with label_map {0: 0, 255: 1} (--label-map "
                "0:0,255:1, dataset.yaml, or data.train_kwargs.label_map in a recipe)"
            ]
        top = max((v for v in self.raw_values if v != 255), default=0)
        if top > max(20, 4 * len(self.classes)):
            return [
                f"{absent}: mask values go up to {top} for {len(self.classes)} classes, like "
                "colour-coded or raw-id masks: convert colour masks with ffseg convert-masks, "
                "or map raw ids with a label_map {raw: class}"
            ]
        return []

    @property
    def colour_problem(self) -> list[str]:
        """One line for all colour (RGB) masks: how many, an example, and the fix."""
        if not self.colour_masks:
            return []
        return [
            f"{len(self.colour_masks)} of {self.num_samples} masks are colour (RGB) images, "
            f"e.g. {self.colour_masks[0]!r}, but masks hold one class index per pixel: convert "
            "them with ffseg convert-masks --src <colour mask folder> --out <new folder> "
            "--palette <dataset.yaml | cityscapes | camvid>"
        ]

    @property
    def all_problems(self) -> list[str]:
        """Every problem: wrong label encodings, colour masks, then each bad file."""
        return self.label_problems + self.colour_problem + self.problems

    @property
    def warnings(self) -> list[str]:
        """Findings that do not stop training but usually mean wrong labels."""
        if not self.absent or self.label_problems:
            return []
        return [
            f"{len(self.absent)} class(es) have no pixels: {', '.join(self.absent[:10])}; a "
            "model cannot learn them (check the masks' values, label_map and classes)"
        ]

    @property
    def ok(self) -> bool:
        return not self.all_problems

    def format(self) -> str:
        """A human-readable summary: sizes, class histogram, problems."""
        total = int(self.class_pixels.sum()) + self.ignore_pixels
        sizes = ", ".join(f"{h}x{w}: {n}" for (h, w), n in sorted(self.image_sizes.items()))
        lines = [f"{self.name}: {self.num_samples} samples (image sizes HxW: {sizes or '-'})"]
        width = max([5, *(len(c) for c in self.classes)])
        lines.append(f"  {'class':{width}s} {'pixels':>12s} {'share':>7s}")
        rows = [*zip(self.classes, self.class_pixels.tolist()), ("(ignore)", self.ignore_pixels)]
        for name, count in rows:
            share = 100.0 * count / total if total else 0.0
            flag = "  <- absent" if count == 0 and name != "(ignore)" else ""
            lines.append(f"  {name:{width}s} {count:12d} {share:6.2f}%{flag}")
        if self.rotated:
            lines.append(
                f"  NOTE: {len(self.rotated)} image(s) carry an EXIF rotation and are read "
                f"rotated, as image viewers show them, e.g. {self.rotated[0]}"
            )
        lines += [f"  WARNING: {w}" for w in self.warnings]
        if self.all_problems:
            lines.append(f"  {len(self.all_problems)} problem(s):")
            lines += [f"    - {p}" for p in self.all_problems]
        else:
            lines.append("  no problems found")
        return "\n".join(lines)


class _Scan(Dataset):
    """Checks one sample per item, returning findings instead of raising."""

    def __init__(self, dataset: SegDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        ds, n = self.dataset, self.dataset.num_classes
        out: dict[str, Any] = {"problems": [], "hist": np.zeros(n + 1, np.int64), "size": None}
        if not isinstance(ds, FileSegDataset):
            try:
                image, mask = ds.load(i)
            except (DataError, OSError) as exc:
                out["problems"].append(str(exc))
                return out
            out["size"] = tuple(image.shape[-2:])
            m = mask.numpy().ravel()
            valid = (m >= 0) & (m < n)
            out["hist"][:n] = np.bincount(m[valid], minlength=n)
            out["hist"][n] = int((m == ds.ignore_index).sum())
            bad = np.unique(m[~valid & (m != ds.ignore_index)])
            if len(bad):
                out["problems"].append(
                    f"sample {i}: mask values {bad[:10].tolist()} outside classes"
                )
            return out
        img_path, mask_path = ds.samples[i][0], ds.mask_path(i)
        orientation = 1
        try:
            img, orientation = open_checked(img_path, "Image")
            out["size"] = (img.height, img.width)
        except DataError as exc:
            out["problems"].append(str(exc))
        if orientation != 1:
            out["rotated"] = str(img_path)
        if mask_path is None:
            return out
        try:
            raw = read_mask(mask_path)
        except ColourMaskError:
            out["colour"] = str(mask_path)
            return out
        except DataError as exc:
            out["problems"].append(str(exc))
            return out
        size = out["size"]
        if size is not None and raw.shape != size and swaps_sides(orientation):
            out["problems"].append(
                f"image {str(img_path)!r} carries EXIF orientation {orientation}, so it is "
                f"shown (and read) rotated as {size[0]}x{size[1]}, but its mask "
                f"{str(mask_path)!r} is {raw.shape[0]}x{raw.shape[1]}, the unrotated size: "
                "re-save the image upright without the EXIF rotation, or rotate the mask to "
                "match the image as displayed"
            )
        elif size is not None and raw.shape != size:
            out["problems"].append(
                f"size mismatch: mask {str(mask_path)!r} is {raw.shape[0]}x{raw.shape[1]}, image "
                f"{str(img_path)!r} is {size[0]}x{size[1]}: check the pairing (list file / "
                "suffixes) or resize the mask with nearest interpolation"
            )
        lut = ds.mask_lut(i)
        raw = raw.astype(np.int64).ravel()
        inside = raw < len(lut)
        mapped = np.full(raw.shape, INVALID, np.int64)
        mapped[inside] = lut[raw[inside]]
        out["raw_values"] = np.unique(raw[mapped != INVALID]).tolist()  # the accepted ones
        bad = np.unique(raw[mapped == INVALID])
        if len(bad):
            message = invalid_values_message(mask_path, bad, lut, getattr(ds, "label_hint", ""))
            out["problems"].append(f"{message} ({int((mapped == INVALID).sum())} pixels)")
        ok = (mapped >= 0) & (mapped < n)
        out["hist"][:n] = np.bincount(mapped[ok], minlength=n)
        out["hist"][n] = int((mapped == ds.ignore_index).sum())
        return out


def _as_list(batch: list[Any]) -> list[Any]:
    return batch


def check_dataset(
    dataset: SegDataset, name: str = "", num_workers: int = 0, progress: bool = False
) -> DataReport:
    """Read every image and mask of ``dataset`` and collect all problems (never raises on data).

    Checks: unreadable / truncated / missing files, colour (one finding for the set), JPEG,
    float and negative masks, image-mask size mismatches (naming an EXIF rotation behind one),
    mask values that are neither a class nor the ignore index, and classes left without pixels
    by 0/255 or colour-like masks. Also counts pixels per class and EXIF-rotated images.
    """
    n = dataset.num_classes
    report = DataReport(name or type(dataset).__name__, tuple(dataset.classes))
    report.class_pixels = np.zeros(n, np.int64)
    loader = DataLoader(_Scan(dataset), batch_size=8, num_workers=num_workers, collate_fn=_as_list)
    if progress:
        from tqdm.auto import tqdm

        loader = tqdm(loader, desc=f"check {report.name}", leave=False)  # type: ignore[assignment]
    for batch in loader:
        for item in batch:
            report.num_samples += 1
            report.problems += item["problems"]
            report.class_pixels += item["hist"][:n]
            report.ignore_pixels += int(item["hist"][n])
            report.raw_values.update(item.get("raw_values", ()))
            if "rotated" in item:
                report.rotated.append(item["rotated"])
            if "colour" in item:
                report.colour_masks.append(item["colour"])
            if item["size"] is not None:
                key = (int(item["size"][0]), int(item["size"][1]))
                report.image_sizes[key] = report.image_sizes.get(key, 0) + 1
    return report
