"""Evaluation: segmentation mIoU (whole / sliding window / multi-scale + flip) and top-k accuracy.

Logits are cast to float32 and resized bilinearly to the mask size before the argmax
(``align_corners=False`` by default, as the official Cityscapes script). Under
``torch.distributed`` each rank evaluates its shard (use
:class:`ffseg.data.samplers.DistributedEvalSampler`, which never pads) and the confusion matrix
and counts are all-reduced, so 1 and N processes give identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from ffseg.metrics import ConfusionMatrix

__all__ = ["evaluate", "evaluate_classification", "predict_scores"]

BatchCallback = Callable[[torch.Tensor, int], None]


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _check_sampler(loader: DataLoader) -> None:
    """Refuse loaders that would duplicate or repeat samples across ranks."""
    world = _world()
    if world == 1:
        return
    sampler = loader.sampler
    n = len(loader.dataset)  # type: ignore[arg-type]
    if isinstance(sampler, DistributedSampler) and (n % world or sampler.drop_last):
        raise ValueError(
            f"DistributedSampler pads or drops samples ({n} samples, {world} ranks), which "
            "changes the metric; use ffseg.data.samplers.DistributedEvalSampler for evaluation."
        )
    if not isinstance(sampler, DistributedSampler) and len(sampler) == n:
        # a plain sampler: every rank would see the whole set
        from ffseg.data.samplers import DistributedEvalSampler

        if not isinstance(sampler, DistributedEvalSampler):
            raise ValueError(
                f"torch.distributed is initialised ({world} ranks) but the loader's sampler "
                f"({type(sampler).__name__}) gives every rank all {n} samples; use "
                "DataLoader(..., sampler=ffseg.data.samplers.DistributedEvalSampler(dataset))."
            )


def _forward(model: nn.Module, x: torch.Tensor, num_classes: int | None) -> torch.Tensor:
    out = model(x)
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"model(x) returned {type(out).__name__}; ffseg models return one logits tensor "
            "(aux heads only come from forward_train)."
        )
    if num_classes is not None and out.shape[1] != num_classes:
        raise ValueError(
            f"The model outputs {out.shape[1]} classes but the dataset has {num_classes}; "
            f"create the model with num_classes={num_classes} (or evaluate on the matching "
            "dataset)."
        )
    return out.float()


def _slide(
    model: nn.Module,
    x: torch.Tensor,
    crop: tuple[int, int],
    stride: tuple[int, int],
    num_classes: int | None,
    align_corners: bool,
) -> torch.Tensor:
    """Sliding-window logits at the resolution of ``x`` (overlaps averaged)."""
    b, _, h, w = x.shape
    ch, cw = crop
    pad_h, pad_w = max(ch - h, 0), max(cw - w, 0)
    if pad_h or pad_w:  # pad bottom/right with 0 (the mean after normalisation)
        x = F.pad(x, (0, pad_w, 0, pad_h))
    hp, wp = x.shape[-2:]
    sh, sw = stride
    rows = max(math.ceil((hp - ch) / sh), 0) + 1
    cols = max(math.ceil((wp - cw) / sw), 0) + 1
    total: torch.Tensor | None = None
    count = torch.zeros(1, 1, hp, wp, device=x.device)
    for i in range(rows):
        for j in range(cols):
            y0, x0 = min(i * sh, hp - ch), min(j * sw, wp - cw)
            logits = _forward(model, x[:, :, y0 : y0 + ch, x0 : x0 + cw], num_classes)
            logits = F.interpolate(
                logits, size=(ch, cw), mode="bilinear", align_corners=align_corners
            )
            if total is None:
                total = x.new_zeros(b, logits.shape[1], hp, wp, dtype=torch.float32)
            total[:, :, y0 : y0 + ch, x0 : x0 + cw] += logits
            count[:, :, y0 : y0 + ch, x0 : x0 + cw] += 1
    assert total is not None
    return (total / count)[:, :, :h, :w]


def predict_scores(
    model: nn.Module,
    images: torch.Tensor,
    out_size: Sequence[int],
    *,
    mode: str = "whole",
    crop_size: Sequence[int] | None = None,
    stride: Sequence[int] | None = None,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    align_corners: bool = False,
    num_classes: int | None = None,
) -> torch.Tensor:
    """Class scores ``[B, C, *out_size]``: logits for one pass, else mean softmax over passes.

    ``mode="slide"`` runs ``crop_size`` windows every ``stride`` pixels (default 2/3 of the
    crop) on each scaled image; ``scales`` resize the input, ``flip`` adds mirrored passes.
    """
    if mode not in ("whole", "slide"):
        raise ValueError(f"mode must be 'whole' or 'slide', got {mode!r}")
    if mode == "slide":
        if not crop_size:
            raise ValueError("mode='slide' needs crop_size=(H, W)")
        crop = (int(crop_size[0]), int(crop_size[1]))
        step = (
            (int(stride[0]), int(stride[1]))
            if stride
            else (max(1, crop[0] * 2 // 3), max(1, crop[1] * 2 // 3))
        )
    h, w = images.shape[-2:]
    passes: list[torch.Tensor] = []
    for scale in scales:
        x = images
        if scale != 1.0:
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
            x = F.interpolate(images, size=size, mode="bilinear", align_corners=align_corners)
        for flipped in (False, True) if flip else (False,):
            xi = x.flip(-1) if flipped else x
            if mode == "slide":
                logits = _slide(model, xi, crop, step, num_classes, align_corners)
            else:
                logits = _forward(model, xi, num_classes)
            logits = F.interpolate(
                logits, size=tuple(out_size), mode="bilinear", align_corners=align_corners
            )
            passes.append(logits.flip(-1) if flipped else logits)
    if len(passes) == 1:
        return passes[0]
    return torch.stack([p.softmax(1) for p in passes]).mean(0)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _progress(loader: DataLoader, enabled: bool, desc: str) -> Any:
    if enabled and (not dist.is_initialized() or dist.get_rank() == 0):
        from tqdm.auto import tqdm

        return tqdm(loader, desc=desc, leave=False)
    return loader


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    *,
    device: str | torch.device = "cpu",
    ignore_index: int = 255,
    mode: str = "whole",
    crop_size: Sequence[int] | None = None,
    stride: Sequence[int] | None = None,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    align_corners: bool = False,
    amp_dtype: torch.dtype | None = None,
    progress: bool = False,
    callback: BatchCallback | None = None,
) -> dict[str, Any]:
    """Segmentation metrics of ``model`` over ``loader`` (``ConfusionMatrix.compute()`` keys
    plus ``num_images``). ``callback(pred [B, H, W], batch_index)`` sees every prediction."""
    device = torch.device(device)
    _check_sampler(loader)
    was_training = model.training
    model.eval()
    cm = ConfusionMatrix(num_classes, ignore_index, device=device)
    n_images = 0
    try:
        for batch_index, (images, masks) in enumerate(_progress(loader, progress, "eval")):
            images = images.to(device, non_blocking=True)
            masks = masks.to(device, non_blocking=True)
            if masks.ndim == 2:
                masks = masks.unsqueeze(0)
            if images.ndim == 3:
                images = images.unsqueeze(0)
            with _autocast(device, amp_dtype):
                scores = predict_scores(
                    model, images, masks.shape[-2:], mode=mode, crop_size=crop_size,
                    stride=stride, scales=scales, flip=flip, align_corners=align_corners,
                    num_classes=num_classes,
                )  # fmt: skip
            pred = scores.argmax(1)
            cm.update(pred, masks)
            if callback is not None:
                callback(pred, batch_index)
            n_images += images.shape[0]
    finally:
        model.train(was_training)
    cm.all_reduce()
    results = cm.compute()
    results["num_images"] = _sum_over_ranks(n_images, device)
    return results


def _sum_over_ranks(value: int, device: torch.device) -> int:
    if _world() == 1:
        return int(value)
    t = torch.tensor([value], dtype=torch.int64, device=device)
    dist.all_reduce(t)
    return int(t.item())


@torch.inference_mode()
def evaluate_classification(
    model: nn.Module,
    loader: DataLoader,
    *,
    device: str | torch.device = "cpu",
    topk: Sequence[int] = (1, 5),
    amp_dtype: torch.dtype | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Top-k accuracy counted per sample (not averaged per batch), all-reduced under DDP.

    Returns ``{"top1": ..., "top5": ..., "num_images": N}`` (fractions in 0..1).
    """
    device = torch.device(device)
    _check_sampler(loader)
    was_training = model.training
    model.eval()
    correct = torch.zeros(len(topk), dtype=torch.int64, device=device)
    n = 0
    try:
        for images, labels in _progress(loader, progress, "eval"):
            images, labels = images.to(device), torch.as_tensor(labels, device=device)
            with _autocast(device, amp_dtype):
                logits = model(images).float()
            k_max = min(max(topk), logits.shape[1])
            top = logits.topk(k_max, dim=1).indices
            hits = top == labels.view(-1, 1)
            for i, k in enumerate(topk):
                correct[i] += hits[:, :k].any(1).sum()
            n += labels.numel()
    finally:
        model.train(was_training)
    if _world() > 1:
        dist.all_reduce(correct)
    total = _sum_over_ranks(n, device)
    out: dict[str, Any] = {
        f"top{k}": (float(c) / total if total else float("nan"))
        for k, c in zip(topk, correct.tolist())
    }
    out["num_images"] = total
    return out
