"""Class names and colour palettes: the one home of both (bottom layer, imports nothing of ffseg).

Importing this module is cheap: it loads no dataset, no transform and no model."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

__all__ = [
    "CAMVID_CLASSES",
    "CAMVID_PALETTE",
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_PALETTE",
    "DATASET_CLASSES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Palette",
    "class_names_for",
    "generate_palette",
    "get_palette",
    "imagenet_classes",
    "palette_for",
]

#: Per-channel RGB mean and std of ImageNet (inputs in [0, 1]): the usual normalisation.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: The 19 Cityscapes evaluation classes, in train-id order.
CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)  # fmt: skip

#: Official Cityscapes colours of the 19 train ids.
CITYSCAPES_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
    (0, 80, 100), (0, 0, 230), (119, 11, 32),
)  # fmt: skip

#: The 11 CamVid classes (index 11, "void", is ignored).
CAMVID_CLASSES: tuple[str, ...] = (
    "sky", "building", "pole", "road", "sidewalk", "tree", "sign_symbol", "fence", "car",
    "pedestrian", "bicyclist",
)  # fmt: skip

CAMVID_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
    (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
)  # fmt: skip


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names (shipped with torchvision; no download)."""
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


Palette = Sequence[tuple[int, int, int]]

#: Known datasets: (class names, palette).
DATASET_CLASSES: dict[str, tuple[tuple[str, ...], tuple[tuple[int, int, int], ...]]] = {
    "cityscapes": (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE),
    "camvid": (CAMVID_CLASSES, CAMVID_PALETTE),
}


def generate_palette(num_classes: int, seed: int = 0) -> tuple[tuple[int, int, int], ...]:
    """Distinct, deterministic RGB colours for ``num_classes`` classes (golden-ratio hues)."""
    out = []
    for i in range(num_classes):
        hue = (i * 0.618033988749895 + seed * 0.1) % 1.0
        sat = 0.65 + 0.35 * ((i // 7) % 2)
        val = 0.95 - 0.3 * ((i // 3) % 2)
        r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
        out.append((round(r * 255), round(g * 255), round(b * 255)))
    return tuple(out)


def get_palette(name_or_classes: str | int) -> list[tuple[int, int, int]]:
    """A palette by dataset name (``"cityscapes"``, ``"camvid"``) or a generated one of ``n``."""
    if isinstance(name_or_classes, int):
        return list(generate_palette(name_or_classes))
    known = DATASET_CLASSES.get(name_or_classes.lower())
    if known is None:
        raise ValueError(
            f"unknown palette {name_or_classes!r}; use one of {sorted(DATASET_CLASSES)} or a "
            "class count"
        )
    return list(known[1])


def palette_for(cfg: Any, num_classes: int | None = None) -> list[tuple[int, int, int]]:
    """The palette of a ``pretrained_cfg``-like object: its own ``palette`` if it has one of the
    right length, else its dataset's (if the class count fits), else a generated one."""
    n = int(num_classes if num_classes is not None else getattr(cfg, "num_classes", 0) or 0)
    own = getattr(cfg, "palette", None)
    if own and len(own) == n:
        return [tuple(int(v) for v in c) for c in own]  # type: ignore[misc]
    dataset = str(getattr(cfg, "dataset", "") or "").lower()
    known = DATASET_CLASSES.get(dataset)
    if known is not None and len(known[1]) == n:
        return list(known[1])
    return list(generate_palette(n))


def class_names_for(cfg: Any, num_classes: int | None = None) -> list[str]:
    """The class names of a ``pretrained_cfg``-like object: its own ``classes`` if they are the
    right number, else its dataset's (if the class count fits), else ``"class_<i>"``."""
    n = int(num_classes if num_classes is not None else getattr(cfg, "num_classes", 0) or 0)
    own = getattr(cfg, "classes", None)
    if own and len(own) == n:
        return [str(c) for c in own]
    known = DATASET_CLASSES.get(str(getattr(cfg, "dataset", "") or "").lower())
    if known is not None and len(known[0]) == n:
        return list(known[0])
    return [f"class_{i}" for i in range(n)]
