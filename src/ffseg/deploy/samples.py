"""Real images for verification and calibration, taken from a dataset the caller built."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["first_images"]


def first_images(dataset: Any, num: int) -> list[torch.Tensor]:
    """The first ``num`` images of ``dataset`` as ``[1, 3, H, W]`` tensors.

    Build the dataset with ``ffseg.data.eval_transforms(mean, std, (H, W))`` so the images are
    normalised and resized the way the exported model expects.
    """
    return [dataset[i][0].unsqueeze(0) for i in range(min(num, len(dataset)))]
