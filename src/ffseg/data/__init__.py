"""Datasets, transforms, samplers, class names and palettes."""

from ffseg.classes import CAMVID_CLASSES, CITYSCAPES_CLASSES, imagenet_classes
from ffseg.data.datasets import (
    CITYSCAPES_ID_TO_TRAINID,
    DATASETS,
    IGNORE_INDEX,
    CamVid,
    Cityscapes,
    DataError,
    FolderDataset,
    ImageFolderClassification,
    SegDataset,
    SyntheticScenes,
    build_dataset,
    labelid_to_trainid,
    trainid_to_labelid,
)
from ffseg.data.samplers import DistributedEvalSampler, SkipSampler
from ffseg.data.transforms import eval_transforms, train_transforms
from ffseg.data.views import SeededSamples, Transformed

__all__ = [
    "CAMVID_CLASSES",
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_ID_TO_TRAINID",
    "DATASETS",
    "IGNORE_INDEX",
    "CamVid",
    "Cityscapes",
    "DataError",
    "DistributedEvalSampler",
    "FolderDataset",
    "ImageFolderClassification",
    "SeededSamples",
    "SegDataset",
    "SkipSampler",
    "SyntheticScenes",
    "Transformed",
    "build_dataset",
    "eval_transforms",
    "imagenet_classes",
    "labelid_to_trainid",
    "train_transforms",
    "trainid_to_labelid",
]
