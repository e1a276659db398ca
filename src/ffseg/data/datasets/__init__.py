"""Datasets and the ``build_dataset`` registry."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ffseg.data.datasets.base import (
    IGNORE_INDEX,
    DataError,
    FileSegDataset,
    SegDataset,
    generate_palette,
    read_image,
    read_mask,
)
from ffseg.data.datasets.camvid import CamVid
from ffseg.data.datasets.cityscapes import (
    CITYSCAPES_ID_TO_TRAINID,
    Cityscapes,
    labelid_to_trainid,
    trainid_to_labelid,
)
from ffseg.data.datasets.folder import FolderDataset
from ffseg.data.datasets.imagenet import ImageFolderClassification
from ffseg.data.datasets.synthetic import SyntheticScenes

__all__ = [
    "CITYSCAPES_ID_TO_TRAINID",
    "DATASETS",
    "IGNORE_INDEX",
    "CamVid",
    "Cityscapes",
    "DataError",
    "FileSegDataset",
    "FolderDataset",
    "ImageFolderClassification",
    "SegDataset",
    "SyntheticScenes",
    "build_dataset",
    "generate_palette",
    "labelid_to_trainid",
    "read_image",
    "read_mask",
    "trainid_to_labelid",
]


def _folder(root: Any, split: str, transforms: Any, **kw: Any) -> FolderDataset:
    """``folder``: ``<root>/images/<split>`` + ``<root>/annotations/<split>`` unless given."""
    root = Path(root)
    if "list_file" in kw:
        kw.setdefault("img_dir", root)
    else:
        kw.setdefault("img_dir", root / "images" / split)
        kw.setdefault("ann_dir", root / "annotations" / split)
    return FolderDataset(transforms=transforms, **kw)


#: name -> factory(root, split, transforms, **kwargs)
DATASETS: dict[str, Callable[..., Any]] = {
    "cityscapes": lambda root, split, transforms, **kw: Cityscapes(
        root, split, transforms=transforms, **kw
    ),
    "camvid": lambda root, split, transforms, **kw: CamVid(
        root, split, transforms=transforms, **kw
    ),
    "folder": _folder,
    "imagenet": lambda root, split, transforms, **kw: ImageFolderClassification(
        root, split, transforms=transforms, **kw
    ),
    "synthetic": lambda root, split, transforms, **kw: SyntheticScenes(transforms=transforms, **kw),
}


def build_dataset(
    name: str,
    root: str | Path | None = None,
    split: str = "train",
    transforms: Any = None,
    **kwargs: Any,
) -> SegDataset:
    """Build a dataset by name: cityscapes, camvid, folder, imagenet or synthetic.

    ``root`` is required except for ``synthetic`` (which ignores it and ``split``; pass
    ``seed`` to get a different set for validation). Extra keyword arguments go to the class.
    """
    key = name.lower()
    if key not in DATASETS:
        close = difflib.get_close_matches(key, DATASETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(f"Unknown dataset {name!r}; available: {sorted(DATASETS)}.{hint}")
    if root is None and key != "synthetic":
        raise DataError(f"Dataset {name!r} needs a root folder (--root DIR).")
    return DATASETS[key](root, split, transforms, **kwargs)
