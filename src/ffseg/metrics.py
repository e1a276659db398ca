"""Segmentation metrics from one confusion matrix, DDP-aware.

``hist[t, p]`` counts pixels of ground-truth class ``t`` predicted as ``p`` (pixels whose target
is ``ignore_index`` are skipped). From it, per class c: ``IoU_c = TP / (TP + FP + FN)`` and
``acc_c = TP / (TP + FN)``. A class absent from both target and prediction has NaN IoU and
is left out of the mean: **mIoU is the mean over classes present in the union** (the rule of
the official Cityscapes evaluator). aAcc is overall pixel accuracy; fwIoU weights each IoU by
its class's share of target pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["ConfusionMatrix", "format_table"]


class ConfusionMatrix:
    """Accumulates an int64 ``num_classes x num_classes`` matrix on the tensors' device."""

    def __init__(self, num_classes: int, ignore_index: int = 255, device: Any = None) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.mat = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)

    def reset(self) -> None:
        self.mat.zero_()

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add predictions and targets (same shape, integer class indices)."""
        if pred.shape != target.shape:
            raise ValueError(
                f"pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}; resize "
                "logits to the mask size before argmax."
            )
        n = self.num_classes
        if self.mat.device != target.device:
            self.mat = self.mat.to(target.device)
        target = target.reshape(-1).long()
        pred = pred.reshape(-1).to(target.device).long()
        keep = target != self.ignore_index
        target = torch.where(keep, target, 0)
        t_lo, t_hi = torch.aminmax(target)
        p_lo, p_hi = torch.aminmax(pred)
        if bool((t_lo < 0) | (t_hi >= n) | (p_lo < 0) | (p_hi >= n)):
            bad_t = torch.unique(target[(target < 0) | (target >= n)])[:10].tolist()
            bad_p = torch.unique(pred[(pred < 0) | (pred >= n)])[:10].tolist()
            raise ValueError(
                f"ConfusionMatrix(num_classes={n}, ignore_index={self.ignore_index}) got "
                f"target values {bad_t} / prediction values {bad_p} outside 0..{n - 1}. "
                "num_classes disagrees with the dataset or model, or masks were not mapped to "
                "train ids; check the dataset classes and the model's num_classes."
            )
        # ignored pixels go to an extra bin n*n that is dropped (faster than boolean indexing)
        index = torch.where(keep, target * n + pred, n * n)
        self.mat += torch.bincount(index, minlength=n * n + 1)[: n * n].view(n, n)

    def all_reduce(self) -> None:
        """Sum the matrix over all ranks (no-op unless torch.distributed is initialised)."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(self.mat, op=dist.ReduceOp.SUM)

    def compute(self) -> dict[str, Any]:
        """``miou, iou, acc, macc, aacc, fwiou`` (floats / per-class lists; NaN = undefined)."""
        h = self.mat.double().cpu()
        tp = h.diag()
        gt = h.sum(1)
        union = gt + h.sum(0) - tp
        nan = torch.tensor(float("nan"), dtype=torch.float64)
        iou = torch.where(union > 0, tp / union.clamp(min=1), nan)
        acc = torch.where(gt > 0, tp / gt.clamp(min=1), nan)
        total = gt.sum()
        freq = gt / total if total > 0 else torch.zeros_like(gt)
        present = freq > 0
        return {
            "miou": _nanmean(iou),
            "iou": iou.tolist(),
            "acc": acc.tolist(),
            "macc": _nanmean(acc),
            "aacc": float(tp.sum() / total) if total > 0 else float("nan"),
            "fwiou": float((freq[present] * iou[present].nan_to_num(0.0)).sum())
            if total > 0
            else float("nan"),
        }


def _nanmean(x: torch.Tensor) -> float:
    valid = x[~x.isnan()]
    return float(valid.mean()) if valid.numel() else float("nan")


def format_table(metrics: dict[str, Any], class_names: Sequence[str] | None = None) -> str:
    """A per-class IoU / accuracy table followed by the summary line (values in %)."""
    iou, acc = metrics["iou"], metrics["acc"]
    names = list(class_names) if class_names else [str(i) for i in range(len(iou))]
    if len(names) != len(iou):
        raise ValueError(f"{len(names)} class names for {len(iou)} classes")
    width = max(5, *(len(n) for n in names))

    def pct(v: float) -> str:
        return "   -  " if v is None or math.isnan(v) else f"{100 * v:6.2f}"

    lines = [f"{'class':{width}s}    IoU    Acc", "-" * (width + 14)]
    lines += [f"{n:{width}s} {pct(i)} {pct(a)}" for n, i, a in zip(names, iou, acc)]
    lines.append("-" * (width + 14))
    summary = (
        f"mIoU {pct(metrics['miou']).strip()}  mAcc {pct(metrics['macc']).strip()}  "
        f"aAcc {pct(metrics['aacc']).strip()}  fwIoU {pct(metrics['fwiou']).strip()}"
    )
    if "num_images" in metrics:
        summary += f"  ({metrics['num_images']} images)"
    return "\n".join([*lines, summary])
