"""Scan a whole dataset and report every problem (``ffseg check-data``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset

from ffseg.data.datasets.base import (
    INVALID,
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

    @property
    def warnings(self) -> list[str]:
        """Findings that do not stop training but usually mean wrong labels."""
        out = []
        absent = [c for c, count in zip(self.classes, self.class_pixels.tolist()) if count == 0]
        if self.num_samples and absent:
            out.append(
                f"{len(absent)} class(es) have no pixels: {', '.join(absent[:10])}; a model "
                "cannot learn them (check the masks' values, label_map and classes)"
            )
        if absent and self.raw_values <= {0, 255} and 255 in self.raw_values:
            out.append(
                "masks hold only the values 0 and 255: 255 is the ignore index, so it is not "
                "learnt; if 255 marks the foreground, map it with label_map {0: 0, 255: 1} "
                "(--label-map 0:0,255:1, or data.train_kwargs.label_map in a recipe)"
            )
        top = max((v for v in self.raw_values if v != 255), default=0)
        if absent and top > max(20, 4 * len(self.classes)):
            out.append(
                f"mask values go up to {top} for "
                f"{len(self.classes)} classes: masks that look like colours or raw ids need a "
                "label_map {raw: class} (ffseg check-data does not convert them)"
            )
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

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
        if self.problems:
            lines.append(f"  {len(self.problems)} problem(s):")
            lines += [f"    - {p}" for p in self.problems]
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
                f"{str(img_path)!r} is {out['size'][0]}x{out['size'][1]}"
            )
        lut = ds.mask_lut(i)
        raw = raw.astype(np.int64).ravel()
        out["raw_values"] = np.unique(raw).tolist()
        inside = raw < len(lut)
        mapped = np.full(raw.shape, INVALID, np.int64)
        mapped[inside] = lut[raw[inside]]
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

    Checks: unreadable / truncated / missing files, colour masks, image-mask size mismatches
    and mask values that are neither a class nor the ignore index. Also counts pixels per class.
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
            if item["size"] is not None:
                key = (int(item["size"][0]), int(item["size"][1]))
                report.image_sizes[key] = report.image_sizes.get(key, 0) + 1
    return report
