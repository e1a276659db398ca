"""Train / eval presets: shapes, dtypes, mask handling, image and mask kept aligned."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader
from torchvision import tv_tensors

from ffseg.data import SyntheticScenes, eval_transforms, train_transforms
from ffseg.data.transforms import IMAGENET_MEAN, IMAGENET_STD, imagenet_eval_transforms

MEAN, STD = IMAGENET_MEAN, IMAGENET_STD


def _coded_pair(h: int = 40, w: int = 56) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """An image whose colour encodes the mask: class c has red = 40 * c."""
    mask = torch.zeros(h, w, dtype=torch.int64)
    mask[:, w // 2 :] = 1
    mask[h // 2 :, : w // 3] = 2
    image = torch.stack([mask * 40, torch.full_like(mask, 10), torch.full_like(mask, 20)])
    return tv_tensors.Image(image.to(torch.uint8)), tv_tensors.Mask(mask)


def _red(image: torch.Tensor) -> torch.Tensor:
    return (image[0] * STD[0] + MEAN[0]) * 255


def test_train_preset_shapes_dtypes_and_values() -> None:
    image, mask = SyntheticScenes(n=1, size=(64, 80))[0]
    t = train_transforms((48, 40), MEAN, STD, color_jitter=0.2)
    for _ in range(5):
        x, y = t(image, mask)
        assert type(x) is torch.Tensor and type(y) is torch.Tensor
        assert x.shape == (3, 48, 40) and x.dtype == torch.float32
        assert y.shape == (48, 40) and y.dtype == torch.int64
        assert set(y.unique().tolist()) <= set(mask.unique().tolist()) | {255}


def test_crop_pads_image_with_zero_and_mask_with_ignore() -> None:
    image, mask = _coded_pair(20, 24)
    t = train_transforms((64, 64), MEAN, STD, scale_range=(1.0, 1.0), hflip=False)
    x, y = t(image, mask)
    padded = y == 255
    assert padded.sum() == 64 * 64 - 20 * 24
    raw = x * torch.tensor(STD).view(3, 1, 1) + torch.tensor(MEAN).view(3, 1, 1)
    assert torch.allclose(raw[:, padded], torch.zeros(()), atol=1e-6)


def test_image_and_mask_stay_aligned_under_scale_crop_flip() -> None:
    image, mask = _coded_pair()
    t = train_transforms((32, 32), MEAN, STD, scale_range=(0.75, 1.5), hflip=True)
    torch.manual_seed(3)
    for _ in range(10):
        x, y = t(image, mask)
        red = _red(x)
        for c in y.unique().tolist():
            # away from class edges (which resizing blurs) the image has the class's colour
            other = (y != c).float()[None, None]
            interior = torch.nn.functional.max_pool2d(other, 5, 1, 2)[0, 0] == 0
            if c != 255 and interior.any():
                assert (red[interior] - 40 * c).abs().max() < 1.0


def test_eval_preset_keeps_size_and_resize_uses_nearest_for_masks() -> None:
    image, mask = _coded_pair()
    x, y = eval_transforms(MEAN, STD)(image, mask)
    assert x.shape == (3, 40, 56) and torch.equal(y, mask.as_subclass(torch.Tensor))
    x, y = eval_transforms(MEAN, STD, resize=(23, 31))(image, mask)
    assert x.shape == (3, 23, 31) and y.shape == (23, 31)
    assert set(y.unique().tolist()) <= {0, 1, 2}  # nearest: no interpolated labels


def test_presets_collate_in_a_dataloader_with_a_worker() -> None:
    ds = SyntheticScenes(n=4, size=(48, 64), transforms=train_transforms((32, 32), MEAN, STD))
    x, y = next(iter(DataLoader(ds, batch_size=4, num_workers=1)))
    assert x.shape == (4, 3, 32, 32) and y.shape == (4, 32, 32) and y.dtype == torch.int64


def test_imagenet_eval_preset() -> None:
    image, _ = SyntheticScenes(n=1, size=(300, 400))[0]
    x, label = imagenet_eval_transforms()(image, 7)
    assert x.shape == (3, 224, 224) and label == 7
