"""Class-uniform sampling: class centroids, class-centred crops, seeded and DDP-sharded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Subset
from torchvision import tv_tensors

from ffseg.data.class_uniform import (
    CentredCropPreset,
    ClassUniformSamples,
    class_centroids,
    load_centroids,
    mask_centroids,
    save_centroids,
)

RARE = 3


class Scenes:
    """8 images of 32x48: class 1 everywhere, a 4x4 block of the rare class 3 at a corner."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        mask = torch.ones(32, 48, dtype=torch.int64)
        mask[:2, :] = 255
        y, x = (24, 40) if i % 2 else (4, 2)
        mask[y : y + 4, x : x + 4] = RARE
        image = torch.zeros(3, 32, 48, dtype=torch.uint8)
        return tv_tensors.Image(image), tv_tensors.Mask(mask)


def _preset() -> CentredCropPreset:
    return CentredCropPreset((8, 8), (0.0,) * 3, (1.0,) * 3, (1.0, 1.0), hflip=False)


def test_mask_centroids_per_class_and_cell() -> None:
    mask = np.ones((8, 8), dtype=np.int64)
    mask[0:2, 6:8] = 2
    mask[7, 0] = 255
    cents = mask_centroids(mask, num_classes=3, grid=2)
    assert set(cents) == {1, 2}  # ignored pixels are skipped
    assert len(cents[1]) == 4 and len(cents[2]) == 1
    assert cents[2][0] == pytest.approx((1.0 / 8, 7.0 / 8))


def test_centroids_round_trip_as_json(tmp_path) -> None:
    cents = class_centroids(Subset(Scenes(), range(3)), num_classes=4)
    path = save_centroids(cents, tmp_path / "centroids.json")
    assert load_centroids(path) == cents
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ValueError, match="centroid file"):
        load_centroids(tmp_path / "bad.json")


def test_class_centred_crops_find_the_rare_class_and_are_seeded() -> None:
    data = Scenes()
    cents = class_centroids(data, num_classes=4)
    always = ClassUniformSamples(data, _preset(), seed=0, epoch=0, centroids=cents, share=1.0)
    never = ClassUniformSamples(data, _preset(), seed=0, epoch=0, centroids=cents, share=0.0)
    hits_always = sum(bool((always[i][1] == RARE).any()) for i in range(8))
    hits_never = sum(bool((never[i][1] == RARE).any()) for i in range(8))
    assert hits_always >= 3  # class 3 is drawn for about half of the images, each time hit
    assert hits_never <= 2  # a random 8x8 crop of 32x48 rarely holds the 4x4 block
    again = ClassUniformSamples(data, _preset(), seed=0, epoch=0, centroids=cents, share=1.0)
    assert all(torch.equal(always[i][1], again[i][1]) for i in range(8))  # deterministic
    other = ClassUniformSamples(data, _preset(), seed=0, epoch=1, centroids=cents, share=1.0)
    assert any(not torch.equal(always[i][1], other[i][1]) for i in range(8))


def test_small_images_are_padded_with_ignore() -> None:
    preset = CentredCropPreset((40, 64), (0.0,) * 3, (1.0,) * 3, (1.0, 1.0), hflip=False)
    image, mask = preset(*Scenes()[0], centre=(0.5, 0.5))
    assert image.shape == (3, 40, 64) and mask.shape == (40, 64)
    assert int(mask[-1, -1]) == 255


def test_centroid_count_must_match_the_dataset() -> None:
    with pytest.raises(ValueError, match="recompute"):
        ClassUniformSamples(Scenes(), _preset(), 0, 0, [], 0.5)
