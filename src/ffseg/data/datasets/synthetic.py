"""SyntheticScenes: procedurally drawn street-like scenes for demos and tests (no files)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torchvision import tv_tensors

from ffseg.data.datasets.base import SegDataset, Transform, generate_palette
from ffseg.data.views import mix_seed

__all__ = ["SYNTHETIC_CLASSES", "SyntheticScenes"]

#: Names of the first classes; classes beyond these are textured "object_k" shapes.
SYNTHETIC_CLASSES: tuple[str, ...] = ("sky", "road", "building", "vegetation", "car")

#: Memory a dataset may use to cache its drawn scenes (per process).
CACHE_BYTES = 256 * 2**20
#: Bytes a cached scene takes per pixel: 3 uint8 colour channels + an int64 label.
BYTES_PER_PIXEL = 3 + 8

# Base colours (RGB, 0..1) of the named classes and of extra object classes.
_BASE = {
    "sky": (0.45, 0.65, 0.92),
    "road": (0.42, 0.42, 0.45),
    "building": (0.62, 0.38, 0.30),
    "vegetation": (0.20, 0.55, 0.20),
    "car": (0.15, 0.20, 0.70),
}


class SyntheticScenes(SegDataset):
    """Deterministic textured scenes: sky, road, buildings, trees, cars and extra objects.

    Every class has its own colour family, texture (gradient, grain, window grid, speckle,
    stripes) and typical position, plus per-instance colour jitter and pixel noise, so a small
    network must learn more than a colour lookup but still fits it in about a minute on CPU.
    Sample ``i`` depends only on ``(seed, i)``. ``num_classes`` must be at least 2.
    """

    def __init__(
        self,
        n: int = 64,
        size: tuple[int, int] = (128, 160),
        num_classes: int = 5,
        seed: int = 0,
        transforms: Transform | None = None,
    ) -> None:
        super().__init__(transforms)
        if num_classes < 2:
            raise ValueError(f"SyntheticScenes needs num_classes >= 2, got {num_classes}")
        if n < 1 or min(size) < 16:
            raise ValueError(f"SyntheticScenes needs n >= 1 and size >= 16x16, got {n}, {size}")
        self.n = n
        self.size = (int(size[0]), int(size[1]))
        self.seed = seed
        names = SYNTHETIC_CLASSES[:num_classes]
        self.classes = names + tuple(f"object_{k}" for k in range(len(names), num_classes))
        self.palette = generate_palette(num_classes)
        # scenes are cached in memory (per process) when they fit in CACHE_BYTES
        fits = n * self.size[0] * self.size[1] * BYTES_PER_PIXEL <= CACHE_BYTES
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = {} if fits else None

    def __len__(self) -> int:
        return self.n

    def sample_name(self, index: int) -> str:
        return f"synthetic_{self.seed}_{index:05d}"

    def load(self, index: int) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} scenes")
        if self._cache is not None and index in self._cache:
            image, mask = self._cache[index]
        else:
            image, mask = _draw_scene(self.size, self.num_classes, mix_seed(self.seed, index))
            if self._cache is not None:
                self._cache[index] = (image, mask)
        return tv_tensors.Image(image.clone()), tv_tensors.Mask(mask.clone())


def _draw_scene(size: tuple[int, int], num_classes: int, seed: int) -> tuple[torch.Tensor, ...]:
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    def rand(lo: float = 0.0, hi: float = 1.0) -> float:
        return float(rng.uniform(lo, hi))

    def noise(scale: float) -> np.ndarray:
        return rng.standard_normal((h, w), dtype=np.float32) * scale

    def smooth_noise(scale: float, cells: int = 6) -> np.ndarray:
        coarse = torch.from_numpy(rng.standard_normal((1, 1, cells, cells), dtype=np.float32))
        up = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic")
        return up[0, 0].numpy() * scale

    img = np.zeros((h, w, 3), dtype=np.float32)
    mask = np.zeros((h, w), dtype=np.int64)

    def paint(region: np.ndarray, label: int, rgb: Sequence[float], tex: np.ndarray) -> None:
        colour = np.asarray([c + rand(-0.06, 0.06) for c in rgb], dtype=np.float32)
        img[region] = colour + tex[region][:, None]
        mask[region] = label

    horizon = int(h * rand(0.35, 0.55))
    # 0 sky: vertical gradient + soft clouds
    paint(np.ones((h, w), dtype=bool), 0, _BASE["sky"], (yy / h) * 0.25 + smooth_noise(0.05))
    # 1 road: everything below the horizon, fine grain + lane stripes
    road = yy >= horizon
    lanes = (np.remainder(xx + yy * rand(-0.5, 0.5), 40) < 3) & road & (yy > horizon + 4)
    paint(road, 1, _BASE["road"], noise(0.06) + lanes * np.float32(0.35))
    if num_classes > 2:  # 2 buildings: blocks standing on the horizon with a window grid
        for _ in range(int(rand(2, 5))):
            x0, bw = rand(-0.1, 0.9) * w, rand(0.15, 0.35) * w
            top = horizon - rand(0.2, 0.9) * horizon
            region = (xx >= x0) & (xx < x0 + bw) & (yy >= top) & (yy < horizon + 2)
            period = int(rand(5, 9))
            windows = (np.remainder(xx - x0, period) < period / 2) & (
                np.remainder(yy - top, period) < period / 2
            )
            paint(region, 2, _BASE["building"], windows * np.float32(-0.18) + noise(0.03))
    if num_classes > 3:  # 3 vegetation: speckled round tree crowns
        for _ in range(int(rand(1, 4))):
            cx, cy, r = rand(0, w), horizon - rand(0, 0.3) * h, rand(0.06, 0.14) * min(h, w) * 1.5
            region = (xx - cx) ** 2 + ((yy - cy) * 1.2) ** 2 < r**2
            paint(region, 3, _BASE["vegetation"], noise(0.12))
    if num_classes > 4:  # 4 cars: rounded boxes on the road with a darker lower half
        for _ in range(int(rand(1, 4))):
            cy = rand(horizon + 0.1 * (h - horizon), h - 4)
            scale = 0.5 + (cy - horizon) / max(h - horizon, 1)
            cw, ch = rand(0.12, 0.2) * w * scale, rand(0.08, 0.12) * h * scale
            cx = rand(0, w)
            region = ((xx - cx) / (cw / 2)) ** 4 + ((yy - cy) / (ch / 2)) ** 4 < 1
            hue = rand(-0.1, 0.1)
            rgb = (_BASE["car"][0] + hue, _BASE["car"][1], _BASE["car"][2] - hue)
            paint(region, 4, rgb, (yy > cy) * np.float32(-0.12) + noise(0.03))
    for label in range(5, num_classes):  # extra objects: striped discs, one orientation each
        angle = math.pi * label / max(num_classes, 6)
        rgb = [0.5 + 0.4 * math.sin(label * 2.1 + k * 2.0944) for k in range(3)]
        for _ in range(int(rand(1, 3))):
            cx, cy, r = rand(0, w), rand(0, h), rand(0.05, 0.1) * min(h, w)
            region = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
            stripes = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 1.2) * 0.15
            paint(region, label, rgb, stripes + noise(0.04))
    img += noise(0.03)[..., None]
    img = np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return torch.from_numpy(img).permute(2, 0, 1).contiguous(), torch.from_numpy(mask)
