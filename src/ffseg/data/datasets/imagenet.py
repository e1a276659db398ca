"""ImageFolderClassification: ImageNet-style ``<root>/<split>/<class>/*.jpg`` folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.datasets import ImageFolder

from ffseg.data.datasets.base import DataError, read_image, require_dir

__all__ = ["ImageFolderClassification"]


class ImageFolderClassification(Dataset):
    """Class-per-folder classification data returning ``(tv_tensors.Image uint8, int label)``.

    Classes are the sorted sub-folder names of ``<root>/<split>`` (torchvision ``ImageFolder``
    rules); ``transforms(image, label)`` is applied when given.
    """

    ignore_index = -100  # no ignored labels in classification

    def __init__(self, root: str | Path, split: str = "train", transforms: Any = None) -> None:
        folder = require_dir(
            Path(root) / split,
            f"ImageNet-style split {split!r}",
            "Expected <root>/<split>/<class_name>/<image> folders.",
        )
        try:
            self._folder = ImageFolder(str(folder), loader=read_image)
        except FileNotFoundError as exc:
            raise DataError(
                f"No class folders with images under {str(folder)!r} (empty split): {exc}"
            ) from exc
        self.classes: tuple[str, ...] = tuple(self._folder.classes)
        self.palette: tuple[tuple[int, int, int], ...] = ()
        self.samples = self._folder.samples
        self.transforms = transforms

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, label = self.samples[index]
        image: tv_tensors.Image = read_image(path)
        if self.transforms is not None:
            return self.transforms(image, label)
        return image, label
