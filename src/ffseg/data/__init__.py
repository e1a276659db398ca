"""Datasets, class names and palettes."""

from ffseg.data.classes import CAMVID_CLASSES, CITYSCAPES_CLASSES, imagenet_classes

__all__ = ["CAMVID_CLASSES", "CITYSCAPES_CLASSES", "imagenet_classes"]
