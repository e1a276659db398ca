"""Datasets and the ``build_dataset`` registry."""

from __future__ import annotations

import difflib
import inspect
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
from ffseg.data.datasets.folder import DATASET_YAML, FolderDataset, read_dataset_yaml
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
    """``folder``: ``<root>/images/<split>`` + ``<root>/annotations/<split>`` unless given;
    options missing from ``kw`` come from ``<root>/dataset.yaml`` when there is one."""
    root = Path(root)
    if (root / DATASET_YAML).is_file():
        for key, value in read_dataset_yaml(root / DATASET_YAML).items():
            if kw.get(key) is None:
                kw[key] = value
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
    _check_kwargs(key, kwargs)
    return DATASETS[key](root, split, transforms, **kwargs)


#: The class behind each dataset name (what its keyword arguments are checked against).
_CLASSES: dict[str, type] = {
    "cityscapes": Cityscapes,
    "camvid": CamVid,
    "folder": FolderDataset,
    "imagenet": ImageFolderClassification,
    "synthetic": SyntheticScenes,
}


def _check_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    """Refuse keyword arguments the dataset class does not take, naming the allowed ones
    (e.g. a synthetic ``seed`` left in ``data.train_kwargs`` after ``--set data.name=folder``)."""
    params = inspect.signature(_CLASSES[name]).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = sorted(set(params) - {"root", "split", "transforms"})
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise DataError(
            f"dataset {name!r} does not take {', '.join(map(repr, unknown))} "
            f"(from data.train_kwargs / data.val_kwargs or the dataset options); it takes "
            f"{', '.join(allowed) or 'none'}. Remove the others, e.g. "
            f"--set data.train_kwargs={{}} data.val_kwargs={{}} when switching data.name"
        )
