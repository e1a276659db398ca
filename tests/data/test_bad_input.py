"""Bad files fail loudly, naming the file, the value and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ffseg.data import CamVid, DataError
from tests.data.fixtures import make_camvid_like, save_png


@pytest.fixture
def camvid(tmp_path: Path) -> CamVid:
    return CamVid(make_camvid_like(tmp_path / "camvid"), "train")


def test_truncated_image(camvid: CamVid) -> None:
    path = camvid.samples[0][0]
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DataError, match=r"Cannot read image file '.*train/0.png'.*truncated"):
        camvid[0]


def test_unreadable_mask(camvid: CamVid) -> None:
    camvid.samples[1][1].write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"Cannot read mask file '.*trainannot/1.png'.*re-download"):
        camvid[1]


def test_missing_listed_file(camvid: CamVid) -> None:
    camvid.samples[2][0].unlink()
    with pytest.raises(DataError, match=r"Image file '.*train/2.png' not found"):
        camvid[2]


def test_mask_size_differs_from_image(camvid: CamVid) -> None:
    save_png(camvid.samples[0][1], np.zeros((10, 32), np.uint8))
    with pytest.raises(
        DataError, match=r"trainannot/0.png' is 10x32 .* image '.*train/0.png' is 24x32"
    ):
        camvid[0]


def test_colour_mask(camvid: CamVid) -> None:
    save_png(camvid.samples[0][1], np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(DataError, match=r"is a colour \(RGB\) image.*index masks"):
        camvid[0]


def test_value_neither_class_nor_ignore(camvid: CamVid) -> None:
    save_png(
        camvid.samples[0][1], np.array([[3, 200], [77, 11]], np.uint8).repeat(12, 0).repeat(16, 1)
    )
    with pytest.raises(DataError, match=r"value\(s\) 77, 200 that map to no class .*11-class"):
        camvid[0]
