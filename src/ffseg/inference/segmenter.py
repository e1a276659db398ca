"""``Segmenter``: images in, label masks at the input size out.

It decodes and normalises the image, runs :func:`ffseg.engine.evaluate.predict_scores` (whole
image or sliding window, multi-scale, flip: the same code as evaluation) and returns the result
at the image's own size. It follows the input-size rule of every verb
(:meth:`~ffseg.engine.evaluate.InferenceSpec.for_model`): the network runs at the model's native
input size unless ``size`` is given.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ffseg.classes import Palette, class_names_for, palette_for
from ffseg.deploy.artifacts import load_artifact
from ffseg.deploy.exported import ExportedModel
from ffseg.deploy.fuse import prepare_for_inference
from ffseg.deploy.model_info import check_input_size
from ffseg.deploy.ort import OnnxModel
from ffseg.engine.evaluate import InferenceSpec, predict_scores
from ffseg.inference.images import ImageInput, load_image, save_image
from ffseg.layers import resize_to
from ffseg.viz import colorize, index_mask_image, overlay

__all__ = ["SegResult", "Segmenter"]


@dataclass
class SegResult:
    """One prediction: ``mask`` ``(H, W)`` int64 at the input size, optional ``probs``.

    ``name`` says where the image came from (a file's stem, ``<video>_<frame>``); ``classes``
    names the mask's values (default ``"class_<i>"``).
    """

    mask: torch.Tensor
    image: np.ndarray
    palette: Palette
    probs: torch.Tensor | None = None
    latency_ms: float = 0.0
    name: str = ""
    classes: Sequence[str] = ()

    def colorize(self) -> Image.Image:
        """The colour mask."""
        return colorize(self.mask, self.palette)

    def overlay(self, alpha: float = 0.5) -> Image.Image:
        """The input image blended with the colour mask."""
        return overlay(self.image, self.mask, self.palette, alpha)

    def plot(self, alpha: float = 0.5) -> Image.Image:
        """The overlay (:meth:`overlay`), under the name other libraries use."""
        return self.overlay(alpha)

    def areas(self) -> dict[str, float]:
        """The fraction of the image's pixels per class present, by class name."""
        counts = torch.bincount(self.mask.flatten(), minlength=len(self.palette))
        total = max(1, self.mask.numel())
        names = list(self.classes) or [f"class_{i}" for i in range(len(counts))]
        names += [f"class_{i}" for i in range(len(names), len(counts))]
        return {names[i]: int(c) / total for i, c in enumerate(counts.tolist()) if c}

    def save(self, path: str | os.PathLike[str], kind: str = "mask") -> Path:
        """Write ``"mask"`` (label PNG), ``"color"`` or ``"overlay"`` atomically."""
        images = {
            "mask": lambda: index_mask_image(self.mask),  # 16-bit above 255 classes
            "color": self.colorize,
            "overlay": self.overlay,
        }
        if kind not in images:
            raise ValueError(f"kind must be one of {sorted(images)}, got {kind!r}")
        return save_image(images[kind](), path)


class Segmenter:
    """Predict label masks at the input size.

    Args:
        model: a segmentation model (``forward`` -> ``(B, C, h, w)`` logits), an
            :class:`~ffseg.deploy.ort.OnnxModel`, or a path: a training run folder, a
            ``save_pretrained`` folder, a weights file with its ``config.json`` beside it, or an
            exported ``.onnx`` file. Torch models are put in eval mode with batch norms folded.
        mode: ``"whole"`` (one pass per scale) or ``"slide"`` (``crop_size`` windows moved by
            ``stride``, overlapping logits averaged).
        scales: image scales whose softmax outputs are averaged (e.g. ``(0.75, 1.0, 1.25)``).
        flip: also average the horizontally flipped prediction.
        crop_size, stride: the sliding window (default: the model's native input size) and its
            step (default: windows overlap by a third).
        size: whole mode: the network input size ``(H, W)`` every image is resized to (default:
            the model's native input size); slide mode: resize every image to it before the
            windows. Masks always come back at the image's own size.
        device, dtype: where and in which precision to run (``torch.bfloat16`` on CPU works).
        palette: colours for ``SegResult.colorize``; default from the model's dataset.
    """

    def __init__(
        self,
        model: nn.Module | ExportedModel | str | os.PathLike[str],
        mode: str = "whole",
        scales: Sequence[float] = (1.0,),
        flip: bool = False,
        *,
        crop_size: tuple[int, int] | None = None,
        stride: tuple[int, int] | None = None,
        size: tuple[int, int] | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        channels_last: bool = False,
        palette: Palette | None = None,
    ) -> None:
        if isinstance(model, (str, os.PathLike)):  # a run folder, weights or any export
            model = load_artifact(model)
        cfg = getattr(model, "pretrained_cfg", None)
        if cfg is None:
            raise TypeError(
                f"Segmenter needs an ffseg model (with pretrained_cfg: mean, std, input size), "
                f"got {type(model).__name__}; build it with ffseg.create_model / load_model or "
                "pass a run folder"
            )
        if getattr(cfg, "task", "segmentation") != "segmentation":
            raise ValueError("Segmenter needs a segmentation model, got a classification model")
        slide = mode == "slide"
        self.spec = InferenceSpec.for_model(
            model,
            crop_size if slide else size,
            mode,
            stride=stride,
            scales=tuple(scales),
            flip=flip,
        )
        self.device = torch.device(device) if isinstance(model, nn.Module) else torch.device("cpu")
        self.dtype = dtype
        self.channels_last = channels_last
        if isinstance(model, nn.Module):
            model = prepare_for_inference(
                model, device=self.device, dtype=dtype, channels_last=channels_last
            )
        self.model = model
        self.size = tuple(size) if size and slide else None
        self.mean = torch.tensor(cfg.mean).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(cfg.std).view(1, 3, 1, 1) * 255.0
        self.palette = list(palette if palette is not None else palette_for(cfg))
        self.classes = class_names_for(cfg, len(self.palette))

    @classmethod
    def from_onnx(cls, path: str | os.PathLike[str], **kwargs: Any) -> Segmenter:
        """A segmenter running an exported ONNX file with its sidecar's preprocessing."""
        threads = kwargs.pop("threads", None)
        return cls(OnnxModel(path, threads=threads), **kwargs)

    @classmethod
    def from_artifact(cls, path: str | os.PathLike[str], **kwargs: Any) -> Segmenter:
        """A segmenter running any artifact :func:`ffseg.deploy.artifacts.load_artifact` loads
        (run folder, checkpoint with ``name=``, ONNX, OpenVINO IR, ``.pt2``, TorchScript)."""
        load = {k: kwargs.pop(k) for k in ("threads", "name", "num_classes") if k in kwargs}
        return cls(load_artifact(path, **load), **kwargs)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.model, nn.Module):
            memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
            x = x.to(self.dtype or torch.float32).contiguous(memory_format=memory_format)
        return self.model(x)

    @torch.inference_mode()
    def predict_batch(self, batch: torch.Tensor, return_probs: bool = False) -> list[SegResult]:
        """Predict a uint8 ``(B, 3, H, W)`` batch of raw RGB images."""
        images = batch.permute(0, 2, 3, 1).numpy()
        h, w = batch.shape[-2:]
        x = batch.float()
        if self.size is not None:
            x = resize_to(x, self.size, "bilinear_half")
        for size in self.spec.network_sizes(*x.shape[-2:]):
            check_input_size(self.model, size)
        x = ((x - self.mean) / self.std).to(self.device)
        start = time.perf_counter()
        scores = predict_scores(self._run, x, (h, w), self.spec)
        probs = (scores.softmax(1) if self.spec.num_passes == 1 else scores).cpu()
        masks = probs.argmax(1)
        latency = (time.perf_counter() - start) * 1000.0 / len(batch)
        return [
            SegResult(
                masks[i],
                images[i],
                self.palette,
                probs[i] if return_probs else None,
                latency,
                classes=self.classes,
            )
            for i in range(len(batch))
        ]

    def __call__(
        self, source: ImageInput | Sequence[ImageInput], return_probs: bool = False
    ) -> SegResult | list[SegResult]:
        """Predict one image (path / PIL / ndarray / ``(3,H,W)`` tensor) or a batch of them.

        A list or a ``(B, 3, H, W)`` tensor gives a list of results.
        """
        if isinstance(source, torch.Tensor) and source.dim() == 4:
            return [self(img, return_probs) for img in source]  # type: ignore[misc]
        if isinstance(source, (list, tuple)):
            return [self(img, return_probs) for img in source]  # type: ignore[misc]
        image = load_image(source)  # type: ignore[arg-type]
        if not image.flags.writeable:  # PIL-backed or user arrays may be read-only
            image = image.copy()
        tensor = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0)
        return self.predict_batch(tensor, return_probs)[0]
