"""Prediction panels written at the end of a run: image | prediction | ground truth + legend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset

from ffseg._io import atomic_write
from ffseg.data.datasets.base import Transform
from ffseg.layers import resize_to
from ffseg.viz import as_rgb_array, panel

__all__ = ["OVERLAY_DIR", "write_overlays"]

OVERLAY_DIR = "overlays"


@torch.no_grad()
def write_overlays(
    model: nn.Module,
    dataset: Dataset,
    transform: Transform,
    palette: Sequence[tuple[int, int, int]],
    out_dir: Path,
    device: torch.device,
    count: int,
    classes: Sequence[str] = (),
) -> list[Path]:
    """Save the first ``count`` samples of ``dataset`` (untransformed) as PNG panels with a
    legend of ``classes``; the model sees them through ``transform``. Returns the files."""
    paths = []
    model.eval()
    for i in range(min(count, len(dataset))):  # type: ignore[arg-type]
        raw, raw_mask = dataset[i]
        image, mask = transform(raw, raw_mask)
        logits = model(image.unsqueeze(0).to(device)).float()
        pred = resize_to(logits, mask.shape[-2:], "bilinear_half").argmax(1)[0].cpu()
        rgb = Image.fromarray(as_rgb_array(raw))
        if rgb.size != (mask.shape[-1], mask.shape[-2]):
            rgb = rgb.resize((mask.shape[-1], mask.shape[-2]))
        canvas = panel(rgb, pred, palette, mask, classes=classes)
        path = out_dir / f"val_{i:03d}.png"
        atomic_write(path, lambda tmp, c=canvas: c.save(tmp, format="PNG"))
        paths.append(path)
    return paths
