"""CamVid (11 classes, SegNet 360x480 version) read from its list-file layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ffseg.classes import CAMVID_CLASSES, CAMVID_PALETTE
from ffseg.data.datasets.base import (
    IGNORE_INDEX,
    DataError,
    FileSegDataset,
    Transform,
    identity_lut,
    require_dir,
)
from ffseg.data.datasets.folder import read_list_file

__all__ = ["CAMVID_VOID", "CamVid", "camvid_lut"]

#: Raw label value of the "void" class, mapped to the ignore index.
CAMVID_VOID = 11


def camvid_lut() -> np.ndarray:
    """Raw CamVid label -> class index: 0..10 kept, 11 (void) and 255 -> 255, others invalid."""
    lut = identity_lut(len(CAMVID_CLASSES))
    lut[CAMVID_VOID] = IGNORE_INDEX
    return lut


class CamVid(FileSegDataset):
    """CamVid from ``<root>/<split>.txt`` lines ``image_path label_path`` (relative to root)."""

    classes = CAMVID_CLASSES
    palette = CAMVID_PALETTE
    label_hint = "CamVid labels are 0..10 plus 11 = void; is this the 11-class SegNet version?"

    def __init__(
        self, root: str | Path, split: str = "train", transforms: Transform | None = None
    ) -> None:
        root = require_dir(root, "CamVid root", "Pass the folder holding train.txt / val.txt.")
        list_file = root / f"{split}.txt"
        if not list_file.is_file():
            found = sorted(p.stem for p in root.glob("*.txt"))
            raise DataError(
                f"CamVid split {split!r}: list file {str(list_file)!r} not found "
                f"(splits present: {found or 'none'}). Use one of those or add the list file."
            )
        samples = read_list_file(list_file, root, require_labels=True)
        super().__init__(samples, camvid_lut(), transforms)
        self.root, self.split = root, split
