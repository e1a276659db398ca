"""check_dataset: histogram and problem collection without raising."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ffseg.data import CamVid, SyntheticScenes
from ffseg.data.check import check_dataset
from tests.data.fixtures import make_camvid_like, save_png


def test_histogram_counts_every_pixel() -> None:
    ds = SyntheticScenes(n=3, size=(32, 40), num_classes=4)
    report = check_dataset(ds, "syn")
    expected = sum(np.bincount(ds[i][1].numpy().ravel(), minlength=4) for i in range(3))
    assert report.ok and report.num_samples == 3 and report.image_sizes == {(32, 40): 3}
    np.testing.assert_array_equal(report.class_pixels, expected)
    assert "syn: 3 samples" in report.format() and "no problems found" in report.format()


def test_collects_all_problems_of_a_file_dataset(tmp_path: Path) -> None:
    root = make_camvid_like(tmp_path / "c", n=3, size=(8, 8))
    save_png(root / "trainannot/0.png", np.full((8, 8), 99, np.uint8))
    save_png(root / "trainannot/2.png", np.full((8, 8), 11, np.uint8))  # void only: fine
    (root / "trainannot/1.png").unlink()
    report = check_dataset(CamVid(root, "train"), "c")
    assert not report.ok and len(report.problems) == 2
    assert (
        "value(s) 99 that map to no class" in report.problems[0]
        and "not found" in report.problems[1]
    )
    assert report.ignore_pixels >= 64 and "2 problem(s)" in report.format()
