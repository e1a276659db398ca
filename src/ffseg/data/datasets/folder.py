"""FolderDataset: custom data as an image folder + annotation folder (or a list file)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ffseg.data.datasets.base import (
    IGNORE_INDEX,
    DataError,
    FileSegDataset,
    Transform,
    generate_palette,
    identity_lut,
    lut_from_mapping,
    require_dir,
)
from ffseg.data.datasets.options import check_folder_options
from ffseg.data.decode import IMAGE_SUFFIXES

__all__ = [
    "DATASET_YAML",
    "DATASET_YAML_KEYS",
    "FolderDataset",
    "read_dataset_yaml",
    "read_list_file",
]

#: The file in a folder dataset's root that describes it (classes, palette, label mapping).
DATASET_YAML = "dataset.yaml"
#: What a dataset YAML may hold (the FolderDataset options, plus ``ignore_index``).
DATASET_YAML_KEYS = (
    "classes",
    "palette",
    "label_map",
    "reduce_zero_label",
    "ignore_index",
    "img_suffix",
    "ann_suffix",
)


def read_dataset_yaml(path: str | Path) -> dict[str, Any]:
    """FolderDataset options from a dataset YAML (plain data: ``yaml.safe_load``).

    ``ignore_index: V`` (a raw mask value to ignore, e.g. 0 or 254) becomes a ``label_map``
    entry ``V: 255`` (with the identity for the classes when no ``label_map`` is given).
    """
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read dataset YAML {str(path)!r}: {exc}") from exc
    if not isinstance(spec, dict):
        raise DataError(f"dataset YAML {str(path)!r} must be a mapping of {DATASET_YAML_KEYS}")
    unknown = sorted(set(spec) - set(DATASET_YAML_KEYS))
    if unknown:
        raise DataError(
            f"dataset YAML {str(path)!r}: unknown key(s) {unknown}; allowed: "
            f"{', '.join(DATASET_YAML_KEYS)}"
        )
    check_folder_options(spec, f"dataset YAML {str(path)!r}")
    ignore = spec.pop("ignore_index", None)
    if ignore is not None and int(ignore) != IGNORE_INDEX:
        if spec.get("reduce_zero_label"):
            raise DataError(f"{str(path)!r}: use ignore_index or reduce_zero_label, not both")
        label_map = dict(
            spec.get("label_map") or {i: i for i in range(len(spec.get("classes", ())))}
        )
        label_map[int(ignore)] = IGNORE_INDEX
        spec["label_map"] = label_map
    return spec


def read_list_file(
    list_file: str | Path, base: str | Path, require_labels: bool = True
) -> list[tuple[Path, Path | None]]:
    """Parse lines ``image [mask]`` (paths relative to ``base`` unless absolute)."""
    list_file, base = Path(list_file), Path(base)
    samples: list[tuple[Path, Path | None]] = []
    for lineno, line in enumerate(list_file.read_text().splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) > 2 or (require_labels and len(parts) != 2):
            raise DataError(
                f"{str(list_file)!r} line {lineno}: expected 'image_path label_path', got "
                f"{line.strip()!r}. Paths must not contain spaces."
            )
        image = base / parts[0]
        mask = base / parts[1] if len(parts) == 2 else None
        samples.append((image, mask))
    if not samples:
        raise DataError(f"List file {str(list_file)!r} lists no samples (empty split).")
    return samples


class FolderDataset(FileSegDataset):
    """Images in ``img_dir`` paired with masks in ``ann_dir`` by file name.

    ``image<img_suffix>`` pairs with ``ann_dir/<same relative stem><ann_suffix>`` (sub-folders
    allowed; suffixes match in any case; ``img_suffix=None`` takes every format of
    :data:`~ffseg.data.decode.IMAGE_SUFFIXES`). Alternatively ``list_file`` lists ``image mask`` lines, relative to ``img_dir``
    (or absolute). Masks hold class indices (``255`` = ignore); ``reduce_zero_label``
    maps 0 -> 255 and v -> v - 1 (ADE20K-style), ``label_map`` maps raw values explicitly
    (``{raw: class or 255}``, unlisted raw values are errors).
    """

    label_hint = (
        "Pass label_map={raw_value: class_index_or_255}, reduce_zero_label=True, or the classes "
        "that match your masks."
    )

    def __init__(
        self,
        img_dir: str | Path,
        ann_dir: str | Path | None = None,
        img_suffix: str | None = None,
        ann_suffix: str = ".png",
        list_file: str | Path | None = None,
        classes: Sequence[str] = (),
        palette: Sequence[Sequence[int]] | None = None,
        reduce_zero_label: bool = False,
        label_map: Mapping[int, int] | None = None,
        transforms: Transform | None = None,
    ) -> None:
        if not classes:
            raise DataError("FolderDataset needs classes=[...] (the names of the class indices).")
        given = dict(classes=classes, palette=palette, label_map=label_map)
        given.update(img_suffix=img_suffix, ann_suffix=ann_suffix)
        check_folder_options(given, "folder dataset option")
        self.classes = tuple(classes)
        if palette is not None and len(palette) != len(self.classes):
            raise DataError(
                f"palette has {len(palette)} colours but there are {len(self.classes)} classes "
                f"{list(self.classes)}; give one [r, g, b] per class, in class order"
            )
        self.palette = (
            tuple(tuple(int(c) for c in rgb) for rgb in palette)  # type: ignore[misc]
            if palette is not None
            else generate_palette(len(self.classes))
        )
        img_dir = require_dir(img_dir, "Image folder")
        if list_file is not None:
            samples = read_list_file(list_file, img_dir, require_labels=False)
        else:
            if ann_dir is None:
                raise DataError("FolderDataset needs ann_dir (mask folder) or list_file.")
            samples = self._pair(
                img_dir, require_dir(ann_dir, "Annotation folder"), img_suffix, ann_suffix
            )
        lut = self._build_lut(reduce_zero_label, label_map)
        super().__init__(samples, lut, transforms)
        self.img_dir = img_dir

    @staticmethod
    def _pair(
        img_dir: Path, ann_dir: Path, img_suffix: str | None, ann_suffix: str
    ) -> list[tuple[Path, Path | None]]:
        masks = _by_stem(ann_dir, (ann_suffix,), "mask")
        shown = img_suffix or "/".join(IMAGE_SUFFIXES)
        suffixes = (img_suffix,) if img_suffix else IMAGE_SUFFIXES
        images = _by_stem(img_dir, suffixes, "image", skip=set(masks.values()))
        if not images:
            raise DataError(
                f"No {shown} images under {str(img_dir)!r} (empty split). Check the folder, "
                "or img_suffix / --img-suffix (suffixes match in any case)."
            )
        missing = [str(ann_dir / f"{stem}{ann_suffix}") for stem in images if stem not in masks]
        if missing:
            raise DataError(
                f"{len(missing)} of {len(images)} images have no mask, e.g. {missing[0]!r}. "
                f"Masks must be named <image name without its suffix>{ann_suffix} in "
                f"{str(ann_dir)!r}; fix ann_suffix / --ann-suffix or add the masks."
            )
        return [(images[stem], masks[stem]) for stem in sorted(images)]

    def _build_lut(
        self, reduce_zero_label: bool, label_map: Mapping[int, int] | None
    ) -> np.ndarray:
        n = self.num_classes
        if label_map is not None:
            if reduce_zero_label:
                raise DataError("Use either label_map or reduce_zero_label, not both.")
            bad = {k: v for k, v in label_map.items() if not (0 <= v < n or v == IGNORE_INDEX)}
            if bad:
                raise DataError(
                    f"label_map targets {bad} are neither class indices 0..{n - 1} nor 255; "
                    f"map each raw value to a class index 0..{n - 1} or to 255 (ignore)"
                )
            return lut_from_mapping(label_map)
        if reduce_zero_label:
            mapping = {0: IGNORE_INDEX, IGNORE_INDEX: IGNORE_INDEX}
            mapping.update({v + 1: v for v in range(n)})
            return lut_from_mapping(mapping)
        return identity_lut(n)


def _by_stem(
    folder: Path, suffixes: Sequence[str], what: str, skip: set[Path] | None = None
) -> dict[str, Path]:
    """``{relative path without suffix: file}`` of the files under ``folder`` (but ``skip``)
    whose names end with one of ``suffixes`` in any case; two files of one stem are refused."""
    ends = tuple(s.lower() for s in suffixes)
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        end = next((e for e in ends if rel.lower().endswith(e)), None)
        hidden = path.name.startswith(".")  # e.g. macOS ._name.jpg resource forks
        if end is None or hidden or (skip and path in skip) or not path.is_file():
            continue
        stem = rel[: len(rel) - len(end)]
        if stem in found:
            raise DataError(
                f"two {what} files share the name {stem!r} in {str(folder)!r}: "
                f"{found[stem].name!r} and {path.name!r}; each {what} pairs by name, so "
                "rename or remove one of them."
            )
        found[stem] = path
    return found
