"""Cityscapes over its real on-disk layout, label ids mapped to train ids at load time.

Layout (as extracted from the official zips)::

    <root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    <root>/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png       (mode="fine")
    <root>/gtCoarse/<split>/<city>/<city>_<seq>_<frame>_gtCoarse_labelIds.png   (mode="coarse")

``split`` is train / val / test / train_extra (``leftImg8bit_trainextra.zip`` extracts to
``leftImg8bit/train_extra``; it has coarse labels only). ``*_labelTrainIds.png`` files produced
by ``cityscapesscripts`` are used when the ``*_labelIds.png`` file is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ffseg.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from ffseg.data.datasets.base import (
    IGNORE_INDEX,
    DataError,
    FileSegDataset,
    Transform,
    identity_lut,
    lut_from_mapping,
    require_dir,
)

__all__ = [
    "CITYSCAPES_ID_TO_TRAINID",
    "Cityscapes",
    "cityscapes_label_lut",
    "labelid_to_trainid",
    "trainid_to_labelid",
]

#: Official label id of each of the 19 train ids (road, sidewalk, building, ..., bicycle).
_TRAIN_LABEL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)
#: Official label id -> train id (the 34 ids + license plate -1); 255 = ignored in evaluation.
CITYSCAPES_ID_TO_TRAINID: dict[int, int] = {
    label: _TRAIN_LABEL_IDS.index(label) if label in _TRAIN_LABEL_IDS else IGNORE_INDEX
    for label in range(-1, 34)
}

_SPLITS = ("train", "val", "test", "train_extra")
_MODES = {"fine": "gtFine", "coarse": "gtCoarse"}
_FRAME = re.compile(r"^([A-Za-z0-9-]+_\d+_\d+)")


def cityscapes_label_lut() -> np.ndarray:
    """LUT over uint8 labelIds: ids 0..33 -> train ids, 255 (= id -1 stored as uint8) -> 255."""
    mapping = {k: v for k, v in CITYSCAPES_ID_TO_TRAINID.items() if k >= 0}
    mapping[255] = IGNORE_INDEX
    return lut_from_mapping(mapping)


def labelid_to_trainid(label_ids: np.ndarray) -> np.ndarray:
    """Map an array of label ids (incl. -1, or 255 for -1 stored as uint8) to train ids."""
    arr = np.asarray(label_ids).astype(np.int64)
    arr = np.where(arr == -1, 255, arr)
    lut = cityscapes_label_lut()
    if arr.size and (arr.min() < 0 or arr.max() > 255 or (lut[arr] < 0).any()):
        out_of_range = (arr < 0) | (arr > 255)
        bad = np.unique(arr[out_of_range] if out_of_range.any() else arr[lut[arr] < 0])
        raise DataError(f"Values {bad.tolist()[:10]} are not Cityscapes label ids (-1..33).")
    return lut[arr].astype(np.int64)


def trainid_to_labelid(train_ids: np.ndarray) -> np.ndarray:
    """Map train ids 0..18 to official label ids (for benchmark submission); 255 -> 0."""
    lut = np.zeros(256, dtype=np.uint8)
    for label_id, train_id in CITYSCAPES_ID_TO_TRAINID.items():
        if train_id != IGNORE_INDEX:
            lut[train_id] = label_id
    return lut[np.asarray(train_ids).astype(np.int64) & 255]


class Cityscapes(FileSegDataset):
    """The 19-class Cityscapes benchmark (fine or coarse annotations).

    Only images with an annotation file are used, except for ``split="test"`` whose images are
    returned with all-ignore masks when no labels are present. ``pseudo_label_dir`` holds
    train-id PNGs (e.g. from ``ffseg val --save-preds``) whose names start with
    ``<city>_<seq>_<frame>`` anywhere below it; they replace the annotation of the images they
    cover (the FFNet recipe trains on coarse / extra images with pseudo labels), and images
    without an annotation are kept when a pseudo label exists.
    """

    classes = CITYSCAPES_CLASSES
    palette = CITYSCAPES_PALETTE
    label_hint = (
        "Cityscapes *_labelIds.png hold ids 0..33 (255 = license plate); *_labelTrainIds.png "
        "hold 0..18 and 255. Is this file from the official gtFine/gtCoarse zips?"
    )

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        mode: str = "fine",
        transforms: Transform | None = None,
        pseudo_label_dir: str | Path | None = None,
    ) -> None:
        if split not in _SPLITS:
            raise DataError(f"Cityscapes split {split!r} unknown; use one of {_SPLITS}.")
        if mode not in _MODES:
            raise DataError(f"Cityscapes mode {mode!r} unknown; use 'fine' or 'coarse'.")
        if split == "train_extra" and mode == "fine":
            raise DataError(
                "Cityscapes train_extra has no fine labels: use mode='coarse' (and optionally "
                "pseudo_label_dir)."
            )
        root = require_dir(root, "Cityscapes root", "It must contain leftImg8bit/ and gtFine/.")
        img_root = require_dir(
            root / "leftImg8bit" / split,
            "Cityscapes image folder",
            f"Extract leftImg8bit_trainvaltest.zip (or _trainextra) into {str(root)!r}.",
        )
        gt_name = _MODES[mode]
        gt_root = root / gt_name / split
        pseudo = _index_pseudo_labels(pseudo_label_dir) if pseudo_label_dir else {}
        images = sorted(img_root.glob("*/*_leftImg8bit.png"))
        if not images:
            raise DataError(
                f"No *_leftImg8bit.png images in {str(img_root)!r}/<city>/ (empty split)."
            )
        samples: list[tuple[Path, Path | None]] = []
        self._pseudo: dict[int, Path] = {}
        for image in images:
            stem = image.name[: -len("_leftImg8bit.png")]
            base = gt_root / image.parent.name / f"{stem}_{gt_name}"
            label: Path | None = None
            for suffix in ("_labelIds.png", "_labelTrainIds.png"):
                if Path(f"{base}{suffix}").is_file():
                    label = Path(f"{base}{suffix}")
                    break
            if stem in pseudo:
                self._pseudo[len(samples)] = pseudo[stem]
            elif label is None and split != "test":
                continue
            samples.append((image, label))
        if not samples:
            raise DataError(
                f"No {gt_name} label files (*_{gt_name}_labelIds.png) found for the images in "
                f"{str(img_root)!r} under {str(gt_root)!r} (empty split). Extract "
                f"{gt_name}_trainvaltest.zip / {gt_name}.zip into {str(root)!r}."
            )
        super().__init__(samples, cityscapes_label_lut(), transforms)
        self._trainid_lut = identity_lut(len(CITYSCAPES_CLASSES))
        self.root, self.split, self.mode = root, split, mode

    def sample_name(self, index: int) -> str:
        return self.samples[index][0].name[: -len("_leftImg8bit.png")]

    def mask_path(self, index: int) -> Path | None:
        return self._pseudo.get(index, self.samples[index][1])

    def mask_lut(self, index: int) -> np.ndarray:
        path = self.mask_path(index)
        if index in self._pseudo or (path is not None and path.name.endswith("TrainIds.png")):
            return self._trainid_lut
        return self.lut


def _index_pseudo_labels(directory: str | Path) -> dict[str, Path]:
    directory = require_dir(directory, "Pseudo-label folder")
    index: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.png")):
        m = _FRAME.match(path.name)
        if m:
            index.setdefault(m.group(1), path)
    if not index:
        raise DataError(
            f"Pseudo-label folder {str(directory)!r} holds no PNG named <city>_<seq>_<frame>*.png."
        )
    return index
