"""SyntheticScenes and build_dataset."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors

from ffseg.data import (
    DataError,
    SeededSamples,
    SkipSampler,
    SyntheticScenes,
    Transformed,
    build_dataset,
    train_transforms,
)


def test_sample_types_shapes_and_range() -> None:
    ds = SyntheticScenes(n=6, size=(64, 96), num_classes=5, seed=1)
    assert len(ds) == 6 and ds.num_classes == 5 and len(ds.palette) == 5
    assert ds.classes[:2] == ("sky", "road") and ds.ignore_index == 255
    image, mask = ds[0]
    assert isinstance(image, tv_tensors.Image) and image.dtype == torch.uint8
    assert isinstance(mask, tv_tensors.Mask) and mask.dtype == torch.int64
    assert image.shape == (3, 64, 96) and mask.shape == (64, 96)
    labels = torch.cat([ds[i][1].flatten() for i in range(len(ds))])
    assert labels.min() >= 0 and labels.max() < 5
    assert set(labels.unique().tolist()) == set(range(5))  # every class drawn somewhere


def test_deterministic_per_seed_and_index() -> None:
    a, b = SyntheticScenes(n=3, seed=7), SyntheticScenes(n=3, seed=7)
    c = SyntheticScenes(n=3, seed=8)
    assert torch.equal(a[2][0], b[2][0]) and torch.equal(a[2][1], b[2][1])
    assert not torch.equal(a[2][0], c[2][0])
    assert not torch.equal(a[0][0], a[1][0])


def test_scenes_are_textured_not_flat() -> None:
    ds = SyntheticScenes(n=4, num_classes=5)
    for i in range(len(ds)):
        image, mask = ds[i]
        for label in mask.unique().tolist():
            pixels = image[:, mask == label].float()
            if pixels.shape[1] > 50:
                assert pixels.std(dim=1).mean() > 3.0, f"class {label} is a flat colour"


def test_mutating_a_sample_does_not_change_the_cache() -> None:
    ds = SyntheticScenes(n=2)
    image, mask = ds[0]
    image.zero_()
    mask.fill_(3)
    assert ds[0][0].float().mean() > 0 and not bool((ds[0][1] == 3).all())


@pytest.mark.parametrize("num_classes", [2, 8])
def test_other_class_counts(num_classes: int) -> None:
    ds = SyntheticScenes(n=8, size=(48, 64), num_classes=num_classes)
    labels = torch.cat([ds[i][1].flatten() for i in range(len(ds))])
    assert labels.max() == num_classes - 1 and len(ds.classes) == num_classes


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_classes >= 2"):
        SyntheticScenes(num_classes=1)
    with pytest.raises(IndexError):
        SyntheticScenes(n=2).load(2)


def test_build_dataset_registry() -> None:
    ds = build_dataset("synthetic", n=3, size=(32, 48), num_classes=3, seed=2)
    assert isinstance(ds, SyntheticScenes) and len(ds) == 3 and ds[0][0].shape == (3, 32, 48)
    with pytest.raises(DataError, match=r"Unknown dataset 'camvd'.*Did you mean 'camvid'"):
        build_dataset("camvd", root=".")
    with pytest.raises(DataError, match="needs a root folder"):
        build_dataset("camvid")


def test_seeded_views_are_reproducible_and_independent_of_global_rng() -> None:
    raw = SyntheticScenes(n=4, size=(32, 32))
    tf = train_transforms((24, 24), scale_range=(0.5, 1.5))
    torch.manual_seed(1)
    a = SeededSamples(raw, tf, seed=3, epoch=0)[2]
    torch.manual_seed(2)
    b = SeededSamples(raw, tf, seed=3, epoch=0)[2]
    c = SeededSamples(raw, tf, seed=3, epoch=1)[2]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])  # another epoch, another augmentation
    plain = Transformed(raw, lambda image, mask: (image.float(), mask))
    assert len(plain) == 4 and plain[1][0].dtype == torch.float32
    assert list(SkipSampler(range(5), 2)) == [2, 3, 4] and len(SkipSampler(range(5), 2)) == 3
