"""What differs between segmentation and classification training, behind one interface.

A :class:`Task` knows the transforms of its data, how to evaluate a model, which number is the
run's score (``score_name``: ``"miou"`` or ``"top1"``), which metrics go to ``summary.csv`` and
TensorBoard, and writes prediction overlays where they make sense. :func:`fit` only talks to
this interface, so it has no per-task branches.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import DataLoader

from ffseg._io import check_no_symlinks
from ffseg.config import Config
from ffseg.data.class_uniform import CentredCropPreset
from ffseg.data.datasets.base import Transform
from ffseg.data.transforms import (
    eval_transforms,
    imagenet_eval_transforms,
    imagenet_train_transforms,
    train_transforms,
)
from ffseg.engine.data import TrainData
from ffseg.engine.evaluate import evaluate, evaluate_classification
from ffseg.engine.overlays import OVERLAY_DIR, write_overlays
from ffseg.metrics import format_table
from ffseg.models import PretrainedCfg

__all__ = [
    "EMA_SUFFIX",
    "ClassificationTask",
    "SegmentationTask",
    "Task",
    "make_task",
    "preprocessing",
]

#: Appended to a score's name for the EMA weights' score (``miou_ema``).
EMA_SUFFIX = "_ema"
#: Top-k accuracies reported for classification (k larger than the class count is skipped).
TOPK = (1, 5)


def preprocessing(model: nn.Module) -> PretrainedCfg:
    """The model's ``pretrained_cfg`` (mean, std, crop_pct), or the defaults for a custom model
    that has none."""
    return getattr(model, "pretrained_cfg", None) or PretrainedCfg(architecture="custom")


class Task(ABC):
    """The task-specific parts of a run, bound to its recipe, data, device and precision."""

    #: The metric that selects the best weights and is reported as the run's score.
    score_name: ClassVar[str]
    #: Further metrics written to ``summary.csv`` next to the score.
    summary_keys: ClassVar[tuple[str, ...]] = ()
    #: Scalar metrics written to TensorBoard.
    tensorboard_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        cfg: Config,
        data: TrainData,
        device: torch.device,
        autocast_dtype: torch.dtype | None,
    ) -> None:
        self.cfg = cfg
        self.data = data
        self.device = device
        self.autocast_dtype = autocast_dtype

    @abstractmethod
    def transforms(self, pcfg: PretrainedCfg) -> tuple[Transform, Transform]:
        """``(train, val)`` transforms for a model with preprocessing ``pcfg``."""

    @abstractmethod
    def evaluate(self, model: nn.Module, loader: DataLoader, progress: bool) -> dict[str, Any]:
        """Validation metrics of ``model``; they include ``score_name``."""

    def table(self, metrics: dict[str, Any]) -> str | None:
        """A human-readable report of ``metrics``, if the task has one."""
        return None

    def scalars(self, metrics: dict[str, Any], scores: dict[str, float]) -> dict[str, float]:
        """TensorBoard scalars of an evaluation (``scores``: the summary row's, EMA included)."""
        out = {f"val/{k}": float(metrics[k]) for k in self.tensorboard_keys if k in metrics}
        return out | {f"val/{k}": v for k, v in scores.items() if k.endswith(EMA_SUFFIX)}

    def overlays(
        self, model: nn.Module, transform: Transform, run_dir: Path, count: int
    ) -> list[Path]:
        """Write up to ``count`` prediction overlays into ``run_dir``; returns the files."""
        return []


class SegmentationTask(Task):
    """Per-pixel classes: random scale / crop / flip, mIoU (whole or sliding window)."""

    score_name = "miou"
    summary_keys = ("aacc", "macc")
    tensorboard_keys = ("miou", "aacc", "macc", "fwiou")

    def transforms(self, pcfg: PretrainedCfg) -> tuple[Transform, Transform]:
        d = self.cfg.data
        make = CentredCropPreset if d.class_uniform > 0 else train_transforms
        train = make(
            tuple(d.crop_size), pcfg.mean, pcfg.std, tuple(d.scale_range), d.hflip, d.color_jitter
        )
        return train, eval_transforms(pcfg.mean, pcfg.std)  # labels scored as stored

    def evaluate(self, model: nn.Module, loader: DataLoader, progress: bool) -> dict[str, Any]:
        e = self.cfg.eval
        return evaluate(
            model,
            loader,
            self.data.num_classes,
            device=self.device,
            ignore_index=self.data.ignore_index,
            mode=e.mode,
            input_size=tuple(e.resize) if e.resize and e.mode == "whole" else None,
            crop_size=tuple(e.crop_size) if e.crop_size else None,
            stride=tuple(e.stride) if e.stride else None,
            scales=tuple(e.scales),
            flip=e.flip,
            amp_dtype=self.autocast_dtype,
            progress=progress,
        )

    def table(self, metrics: dict[str, Any]) -> str | None:
        return format_table(metrics, self.data.classes)

    def scalars(self, metrics: dict[str, Any], scores: dict[str, float]) -> dict[str, float]:
        per_class = zip(self.data.classes, metrics.get("iou", []))
        ious = {f"val_iou/{name}": float(v) for name, v in per_class if not math.isnan(v)}
        return super().scalars(metrics, scores) | ious

    def overlays(
        self, model: nn.Module, transform: Transform, run_dir: Path, count: int
    ) -> list[Path]:
        if self.data.val is None:
            return []
        out_dir = check_no_symlinks(run_dir, OVERLAY_DIR)
        data = self.data
        return write_overlays(
            model, data.val, transform, data.palette, out_dir, self.device, count, data.classes
        )


class ClassificationTask(Task):
    """One class per image (encoder pre-training): random resized crop, top-k accuracy."""

    score_name = "top1"
    summary_keys = ("top5",)
    tensorboard_keys = ("top1", "top5")

    def transforms(self, pcfg: PretrainedCfg) -> tuple[Transform, Transform]:
        size = self.cfg.data.crop_size[0]
        train = imagenet_train_transforms(size, pcfg.mean, pcfg.std)
        return train, imagenet_eval_transforms(
            size, round(size / pcfg.crop_pct), pcfg.mean, pcfg.std
        )

    def evaluate(self, model: nn.Module, loader: DataLoader, progress: bool) -> dict[str, Any]:
        return evaluate_classification(
            model,
            loader,
            device=self.device,
            topk=tuple(k for k in TOPK if k <= self.data.num_classes),
            amp_dtype=self.autocast_dtype,
            progress=progress,
        )


TASKS: dict[str, type[Task]] = {
    "segmentation": SegmentationTask,
    "classification": ClassificationTask,
}


def make_task(
    cfg: Config, data: TrainData, device: torch.device, autocast_dtype: torch.dtype | None
) -> Task:
    """The :class:`Task` of ``data.task``."""
    return TASKS[cfg.data.task](cfg, data, device, autocast_dtype)
