"""CamVid on the real data in ../shared/datasets/camvid (and a generated copy of its layout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ffseg.data import CAMVID_CLASSES, CamVid, DataError, build_dataset, train_transforms
from tests.data.fixtures import make_camvid_like, save_png


def test_real_camvid_counts_shapes_and_class_range(camvid_root: Path) -> None:
    train, val = CamVid(camvid_root, "train"), build_dataset("camvid", camvid_root, "val")
    assert (len(train), len(val)) == (367, 101)
    assert train.classes == CAMVID_CLASSES and train.num_classes == 11
    seen: set[int] = set()
    for ds in (train, val):
        for i in range(0, len(ds), 25):
            image, mask = ds[i]
            assert image.shape == (3, 360, 480) and image.dtype == torch.uint8
            assert mask.shape == (360, 480) and mask.dtype == torch.int64
            values = set(mask.unique().tolist())
            assert values <= set(range(11)) | {255}
            seen |= values
    assert 255 in seen and len(seen - {255}) >= 9  # void mapped to ignore, most classes present


def test_real_camvid_train_preset(camvid_root: Path) -> None:
    ds = CamVid(camvid_root, "train", transforms=train_transforms((256, 256)))
    x, y = ds[0]
    assert x.shape == (3, 256, 256) and y.shape == (256, 256)


def test_void_maps_to_ignore_and_unknown_values_fail(tmp_path: Path) -> None:
    root = make_camvid_like(tmp_path / "camvid")
    ds = CamVid(root, "train")
    raw = np.asarray(__import__("PIL.Image").Image.open(ds.samples[0][1]))
    mask = ds[0][1].numpy()
    np.testing.assert_array_equal(mask, np.where(raw == 11, 255, raw))
    save_png(ds.samples[1][1], np.full((24, 32), 12, np.uint8))
    with pytest.raises(DataError, match=r"trainannot/1.png' contains value\(s\) 12 .*0-11, 255"):
        ds[1]


def test_missing_split_and_root_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"CamVid root .* does not exist"):
        CamVid(tmp_path / "missing")
    root = make_camvid_like(tmp_path / "camvid")
    with pytest.raises(
        DataError, match=r"test.txt' not found \(splits present: \['train', 'val'\]"
    ):
        CamVid(root, "test")
    (root / "val.txt").write_text("\n")
    with pytest.raises(DataError, match=r"val.txt' lists no samples \(empty split\)"):
        CamVid(root, "val")
