"""Saving evaluation predictions: colour, train-id and (Cityscapes) label-id PNGs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ffseg.data import Cityscapes, trainid_to_labelid
from ffseg.inference.images import save_image
from ffseg.viz import write_index_mask

__all__ = ["PredictionWriter"]


class PredictionWriter:
    """An ``evaluate(..., callback=)`` that saves each prediction under the sample's name.

    Writes ``color/<name>.png`` and ``trainIds/<name>.png``, plus ``labelIds/<name>.png`` for
    Cityscapes (the official evaluation's input). ``indices`` maps loader order to dataset
    indices (a subset or this rank's shard).
    """

    def __init__(
        self, out: str | Path, dataset: Any, indices: Sequence[int], batch_size: int
    ) -> None:
        self.out, self.dataset, self.batch_size = Path(out), dataset, batch_size
        self.indices = list(indices)
        self.palette = np.zeros((256, 3), np.uint8)
        self.palette[: len(dataset.palette)] = np.asarray(dataset.palette, np.uint8)
        self.label_ids = isinstance(dataset, Cityscapes)

    def __call__(self, pred: torch.Tensor, batch_index: int) -> None:
        for j, p in enumerate(pred.cpu().numpy()):
            name = self.dataset.sample_name(self.indices[batch_index * self.batch_size + j])
            save_image(
                Image.fromarray(self.palette[p.clip(0, 255)]), self.out / "color" / f"{name}.png"
            )
            write_index_mask(self.out / "trainIds" / f"{name}.png", p)
            if self.label_ids:
                ids = Image.fromarray(trainid_to_labelid(p.astype(np.uint8)))
                save_image(ids, self.out / "labelIds" / f"{name}.png")
