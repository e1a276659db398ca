"""Evaluation: segmentation mIoU (whole / sliding window / multi-scale + flip) and top-k accuracy.

:func:`predict_scores` is the one implementation of whole-image / sliding-window inference with
multi-scale and flip averaging; ``ffseg val``, the trainer, :class:`ffseg.Segmenter` and ONNX
evaluation all run through it, configured by one frozen :class:`InferenceSpec`.

The input-size rule, the same in every verb (:meth:`InferenceSpec.for_model`): a model runs at
its native input size (``pretrained_cfg.input_size``; a training run's is its recipe's
``eval.resize`` or ``data.crop_size``) unless an input size is given; the image is resized to
it, and the logits are upsampled to the label's / image's stored size, where they are scored
or written.

Logits are cast to float32 and resized bilinearly to the mask size before the argmax
(``align_corners=False`` by default, as the official Cityscapes script). Under
``torch.distributed`` each rank evaluates its shard (use
:class:`ffseg.data.samplers.DistributedEvalSampler`, which never pads) and the confusion matrix
and counts are all-reduced, so 1 and N processes give identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from ffseg.data.samplers import DistributedEvalSampler
from ffseg.engine.distributed import world_size
from ffseg.layers import resize_to
from ffseg.metrics import ConfusionMatrix

__all__ = [
    "MODES",
    "SLIDE_OVERLAP",
    "InferenceSpec",
    "evaluate",
    "evaluate_classification",
    "network_input_size",
    "predict_scores",
]

BatchCallback = Callable[[torch.Tensor, int], None]
#: Anything mapping a normalised ``[B, 3, H, W]`` batch to ``[B, C, h, w]`` scores: an
#: ``nn.Module`` or e.g. :class:`ffseg.deploy.ort.OnnxModel`.
Model = Callable[[torch.Tensor], torch.Tensor]

MODES = ("whole", "slide")
#: Neighbouring sliding windows overlap by this share of the window (default stride 2/3).
SLIDE_OVERLAP = Fraction(1, 3)


def _pair(value: Sequence[int] | None, what: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if len(value) != 2 or any(int(v) < 1 for v in value):
        raise ValueError(f"{what} must be two positive integers (H, W), got {tuple(value)}")
    return int(value[0]), int(value[1])


def network_input_size(
    model: Any, input_size: Sequence[int] | None = None
) -> tuple[int, int] | None:
    """The ``(H, W)`` a model runs at: ``input_size`` when given, else its native input size
    (``pretrained_cfg.input_size``); ``None`` for a module without ``pretrained_cfg`` (it runs
    at each image's size)."""
    if input_size:
        return _pair(input_size, "input_size")
    cfg = getattr(model, "pretrained_cfg", None)
    size = getattr(cfg, "input_size", None)
    return (int(size[-2]), int(size[-1])) if size else None


@dataclass(frozen=True)
class InferenceSpec:
    """How to turn an image into class scores (one definition passed through every caller).

    ``mode="whole"`` runs the model once per scale; ``mode="slide"`` runs ``crop_size`` windows
    every ``stride`` pixels (default: windows overlap by :data:`SLIDE_OVERLAP`). ``scales``
    resize the input; ``flip`` adds horizontally mirrored passes. Several passes are averaged
    as softmax probabilities. ``align_corners`` applies to every bilinear resize.
    ``input_size`` (whole mode) resizes every image to ``(H, W)`` before the scales (``None``:
    each image's own size); build a spec that follows the input-size rule with
    :meth:`for_model`. Inputs whose sides are not multiples of ``size_divisor`` (the model's,
    ``SegModel.size_divisor``) are zero-padded (the mean, after normalisation) at the bottom
    and right, and the logits cropped back, so every model runs at any size.
    """

    mode: str = "whole"
    crop_size: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    align_corners: bool = False
    input_size: tuple[int, int] | None = None
    size_divisor: int = 1

    @classmethod
    def for_model(
        cls,
        model: Any,
        input_size: Sequence[int] | None = None,
        mode: str = "whole",
        *,
        stride: Sequence[int] | None = None,
        scales: Sequence[float] = (1.0,),
        flip: bool = False,
        align_corners: bool = False,
    ) -> InferenceSpec:
        """The spec of the input-size rule: whole images resized to
        :func:`network_input_size` (``input_size``, else the model's native size), or sliding
        windows of that size."""
        size = network_input_size(model, input_size)
        slide = mode == "slide"
        return cls(
            mode,
            size if slide else None,
            tuple(stride) if stride else None,
            tuple(scales),
            flip,
            align_corners,
            None if slide else size,
            int(getattr(model, "size_divisor", 1)),
        )

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'whole' or 'slide', got {self.mode!r}")
        crop = _pair(self.crop_size, "crop_size")
        stride = _pair(self.stride, "stride")
        if self.mode == "slide" and crop is None:
            raise ValueError("mode='slide' needs crop_size=(H, W) (the window size)")
        if crop is not None and stride is not None and (stride[0] > crop[0] or stride[1] > crop[1]):
            raise ValueError(
                f"slide stride {stride[0]}x{stride[1]} is larger than the window "
                f"{crop[0]}x{crop[1]}: pixels between windows would never be predicted; use a "
                "stride of at most the window (--stride H W)"
            )
        scales = tuple(float(s) for s in self.scales)
        if not scales or any(s <= 0 for s in scales):
            raise ValueError(f"scales must be positive, got {tuple(self.scales)}")
        object.__setattr__(self, "input_size", _pair(self.input_size, "input_size"))
        object.__setattr__(self, "crop_size", crop)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "flip", bool(self.flip))
        object.__setattr__(self, "align_corners", bool(self.align_corners))
        if int(self.size_divisor) < 1:
            raise ValueError(f"size_divisor must be >= 1, got {self.size_divisor}")
        object.__setattr__(self, "size_divisor", int(self.size_divisor))

    @property
    def num_passes(self) -> int:
        """Model passes per image and window: one per scale, twice with ``flip``."""
        return len(self.scales) * (2 if self.flip else 1)

    @property
    def window(self) -> tuple[int, int]:
        """The sliding-window size (``mode="slide"`` only)."""
        if self.crop_size is None:
            raise ValueError("this InferenceSpec has no crop_size (it is not a sliding window)")
        return self.crop_size

    @property
    def window_stride(self) -> tuple[int, int]:
        """``stride``, or the default that makes windows overlap by :data:`SLIDE_OVERLAP`."""
        if self.stride is not None:
            return self.stride
        ch, cw = self.window
        keep = 1 - SLIDE_OVERLAP
        return max(1, math.floor(ch * keep)), max(1, math.floor(cw * keep))

    def window_origins(self, height: int, width: int) -> Iterator[tuple[int, int]]:
        """Top-left corners of the windows covering a (padded) ``height`` x ``width`` image.

        ``ceil((size - crop) / stride) + 1`` windows per axis; the last one is moved back to
        end at the border.
        """
        (ch, cw), (sh, sw) = self.window, self.window_stride
        rows = max(math.ceil((height - ch) / sh), 0) + 1
        cols = max(math.ceil((width - cw) / sw), 0) + 1
        for i in range(rows):
            for j in range(cols):
                yield min(i * sh, height - ch), min(j * sw, width - cw)

    @staticmethod
    def scaled(height: int, width: int, scale: float) -> tuple[int, int]:
        """The size of a ``height`` x ``width`` image resized by ``scale``."""
        return max(1, round(height * scale)), max(1, round(width * scale))

    def image_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """The sizes a ``height`` x ``width`` image is resized to, one per scale (whole mode:
        scales of ``input_size`` when set)."""
        if self.mode == "whole" and self.input_size is not None:
            height, width = self.input_size
        return [self.scaled(height, width, s) for s in self.scales]

    def network_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """The input sizes the model sees for an image of ``height`` x ``width``."""
        if self.mode == "slide":
            return [self.window]
        return self.image_sizes(height, width)


def _check_sampler(loader: DataLoader) -> None:
    """Refuse loaders that would duplicate or repeat samples across ranks."""
    world = world_size()
    if world == 1:
        return
    sampler = loader.sampler
    n = len(loader.dataset)  # type: ignore[arg-type]
    if isinstance(sampler, DistributedSampler) and (n % world or sampler.drop_last):
        raise ValueError(
            f"DistributedSampler pads or drops samples ({n} samples, {world} ranks), which "
            "changes the metric; use ffseg.data.samplers.DistributedEvalSampler for evaluation."
        )
    plain = not isinstance(sampler, (DistributedSampler, DistributedEvalSampler))
    if plain and len(sampler) == n:  # every rank would see the whole set
        raise ValueError(
            f"torch.distributed is initialised ({world} ranks) but the loader's sampler "
            f"({type(sampler).__name__}) gives every rank all {n} samples; use "
            "DataLoader(..., sampler=ffseg.data.samplers.DistributedEvalSampler(dataset))."
        )


def _forward(
    model: Model, x: torch.Tensor, num_classes: int | None, spec: InferenceSpec
) -> torch.Tensor:
    """The model's logits for ``x``; padded to ``spec.size_divisor`` and cropped back (then at
    the input's resolution) when its sides are not multiples of it."""
    h, w = x.shape[-2:]
    divisor = max(spec.size_divisor, int(getattr(model, "size_divisor", 1)))
    pad_h, pad_w = -h % divisor, -w % divisor
    if pad_h or pad_w:
        out = _checked(model(F.pad(x, (0, pad_w, 0, pad_h))), num_classes)
        return _resize(out, (h + pad_h, w + pad_w), spec.align_corners)[..., :h, :w]
    return _checked(model(x), num_classes)


def _checked(out: Any, num_classes: int | None) -> torch.Tensor:
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


def _resize(x: torch.Tensor, size: Sequence[int], align_corners: bool) -> torch.Tensor:
    return resize_to(x, tuple(size), "bilinear" if align_corners else "bilinear_half")


def _slide(
    model: Model, x: torch.Tensor, spec: InferenceSpec, num_classes: int | None
) -> torch.Tensor:
    """Sliding-window logits at the resolution of ``x`` (overlaps averaged)."""
    b, _, h, w = x.shape
    ch, cw = spec.window
    pad_h, pad_w = max(ch - h, 0), max(cw - w, 0)
    if pad_h or pad_w:  # pad bottom/right with 0 (the mean after normalisation)
        x = F.pad(x, (0, pad_w, 0, pad_h))
    hp, wp = x.shape[-2:]
    total: torch.Tensor | None = None
    count = torch.zeros(1, 1, hp, wp, device=x.device)
    for y0, x0 in spec.window_origins(hp, wp):
        logits = _forward(model, x[:, :, y0 : y0 + ch, x0 : x0 + cw], num_classes, spec)
        logits = _resize(logits, (ch, cw), spec.align_corners)
        if total is None:
            total = x.new_zeros(b, logits.shape[1], hp, wp, dtype=torch.float32)
        total[:, :, y0 : y0 + ch, x0 : x0 + cw] += logits
        count[:, :, y0 : y0 + ch, x0 : x0 + cw] += 1
    assert total is not None
    return (total / count)[:, :, :h, :w]


def predict_scores(
    model: Model,
    images: torch.Tensor,
    out_size: Sequence[int],
    spec: InferenceSpec | None = None,
    *,
    num_classes: int | None = None,
) -> torch.Tensor:
    """Class scores ``[B, C, *out_size]``: logits for one pass, else mean softmax over passes.

    ``images`` are normalised ``[B, 3, H, W]``; ``spec`` (default: one whole-image pass) says
    how: whole image or sliding windows, at which scales, with or without mirrored passes.
    """
    spec = spec or InferenceSpec()
    h, w = images.shape[-2:]
    passes: list[torch.Tensor] = []
    for size in spec.image_sizes(h, w):
        x = images if size == (h, w) else _resize(images, size, spec.align_corners)
        for flipped in (False, True) if spec.flip else (False,):
            xi = x.flip(-1) if flipped else x
            if spec.mode == "slide":
                logits = _slide(model, xi, spec, num_classes)
            else:
                logits = _forward(model, xi, num_classes, spec)
            logits = _resize(logits, out_size, spec.align_corners)
            passes.append(logits.flip(-1) if flipped else logits)
    if spec.num_passes == 1:
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


def _as_spec(spec: InferenceSpec | None, fields: dict[str, Any]) -> InferenceSpec:
    if spec is not None and fields:
        raise TypeError(f"pass either spec= or its fields ({sorted(fields)}), not both")
    return spec if spec is not None else InferenceSpec(**fields)


def _set_eval(model: Model) -> bool | None:
    """Put an ``nn.Module`` in eval mode; returns its previous training flag."""
    if not isinstance(model, nn.Module):
        return None
    was_training = model.training
    model.eval()
    return was_training


@torch.inference_mode()
def evaluate(
    model: Model,
    loader: DataLoader,
    num_classes: int,
    *,
    device: str | torch.device = "cpu",
    ignore_index: int = 255,
    spec: InferenceSpec | None = None,
    amp_dtype: torch.dtype | None = None,
    progress: bool = False,
    callback: BatchCallback | None = None,
    **spec_fields: Any,
) -> dict[str, Any]:
    """Segmentation metrics of ``model`` over ``loader`` (``ConfusionMatrix.compute()`` keys
    plus ``num_images``). ``callback(pred [B, H, W], batch_index)`` sees every prediction.

    ``model`` is an ``nn.Module`` or any callable returning scores, such as
    ``ffseg.deploy.ort.OnnxModel``. Inference follows ``spec``; its fields may also be given
    directly (``mode="slide", crop_size=(512, 1024), ...``).
    """
    spec = _as_spec(spec, spec_fields)
    device = torch.device(device)
    _check_sampler(loader)
    was_training = _set_eval(model)
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
                    model, images, masks.shape[-2:], spec, num_classes=num_classes
                )
            pred = scores.argmax(1).to(device)
            cm.update(pred, masks)
            if callback is not None:
                callback(pred, batch_index)
            n_images += images.shape[0]
    finally:
        if was_training is not None:
            model.train(was_training)  # type: ignore[union-attr]
    cm.all_reduce()
    results = cm.compute()
    results["num_images"] = _sum_over_ranks(n_images, device)
    return results


def _sum_over_ranks(value: int, device: torch.device) -> int:
    if world_size() == 1:
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
    if world_size() > 1:
        dist.all_reduce(correct)
    total = _sum_over_ranks(n, device)
    out: dict[str, Any] = {
        f"top{k}": (float(c) / total if total else float("nan"))
        for k, c in zip(topk, correct.tolist())
    }
    out["num_images"] = total
    return out
