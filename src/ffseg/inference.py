"""Inference on images and videos: ``Segmenter``, palettes, colour masks and overlays.

``Segmenter`` wraps a model (or an exported ONNX file) and turns a path, PIL image, ndarray or
tensor into a label mask at the input's size, with optional class probabilities, multi-scale and
flip averaging, and whole-image or sliding-window inference.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ffseg import viz
from ffseg.classes import Palette, generate_palette, get_palette, palette_for
from ffseg.viz import colorize

__all__ = [
    "ImageInput",
    "OnnxModel",
    "SegResult",
    "Segmenter",
    "check_input_size",
    "colorize",
    "generate_palette",
    "get_palette",
    "iter_video_frames",
    "load_image",
    "overlay",
    "palette_for",
    "segment_video",
]

ImageInput = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


def overlay(
    image: ImageInput, mask: np.ndarray | torch.Tensor, palette: Palette, alpha: float = 0.5
) -> Image.Image:
    """The image (any :data:`ImageInput`, paths too) blended with its colour mask."""
    return viz.overlay(load_image(image), mask, palette, alpha)


# ----------------------------------------------------------------------------- inputs
def load_image(source: ImageInput) -> np.ndarray:
    """An RGB ``uint8`` ``(H, W, 3)`` array from a path, PIL image, ndarray or tensor.

    Float tensors/arrays are taken as RGB in ``[0, 1]``; tensors are ``(3, H, W)``.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"image not found: {path}")
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("RGB"))
        except Exception as exc:
            raise ValueError(
                f"cannot decode image {path}: {exc}. Is it a readable PNG/JPEG? Re-save or skip it."
            ) from exc
    if isinstance(source, Image.Image):
        return np.asarray(source.convert("RGB"))
    if isinstance(source, torch.Tensor):
        if source.dim() != 3 or source.shape[0] not in (1, 3):
            raise ValueError(f"expected a (3, H, W) image tensor, got shape {tuple(source.shape)}")
        source = source.expand(3, -1, -1).permute(1, 2, 0).cpu().numpy()
    array = np.asarray(source)
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) image array, got shape {array.shape}")
    array = array[..., :3]
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating):
            array = np.clip(array * 255.0 + 0.5, 0, 255)
        array = array.astype(np.uint8)
    return np.ascontiguousarray(array)


def check_input_size(model: Any, size: Sequence[int]) -> None:
    """Raise ``ValueError`` when ``(H, W)`` is below the model's ``min_input_size``."""
    cfg = getattr(model, "pretrained_cfg", None)
    min_h, min_w = getattr(cfg, "min_input_size", (1, 1)) if cfg is not None else (1, 1)
    h, w = int(size[0]), int(size[1])
    if h < min_h or w < min_w:
        name = getattr(model, "model_args", {}).get("name", type(model).__name__)
        raise ValueError(
            f"input size {h}x{w} is smaller than the minimum {min_h}x{min_w} of model {name}; "
            f"resize the image to at least {min_h}x{min_w} (e.g. --size {min_h} {min_w})"
        )


# ----------------------------------------------------------------------------- ONNX model
class OnnxModel:
    """An exported ONNX file (with its JSON sidecar) that behaves like a model for ``Segmenter``.

    Called with a normalised ``(B, 3, H, W)`` tensor it returns logits-like scores: logits or
    probabilities as exported, or one-hot scores for an ``argmax`` export. Static exports get
    their input resized to the exported size.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        from ffseg.deploy.ort import ort_session

        self.path = Path(path)
        sidecar = self.path.with_suffix(".json")
        if not sidecar.is_file():
            raise FileNotFoundError(
                f"sidecar {sidecar} not found next to {self.path}; re-export with `ffseg export`"
            )
        try:
            self.meta: dict[str, Any] = json.loads(sidecar.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"sidecar {sidecar} is not valid JSON: {exc}") from exc
        self.session = ort_session(self.path, threads=threads)
        self.num_classes = int(self.meta["num_classes"])
        from types import SimpleNamespace

        self.pretrained_cfg = SimpleNamespace(
            mean=tuple(self.meta["mean"]),
            std=tuple(self.meta["std"]),
            num_classes=self.num_classes,
            dataset=self.meta.get("dataset"),
            min_input_size=tuple(self.meta.get("min_input_size", (1, 1))),
            classes=self.meta.get("classes"),
        )
        self.palette = [tuple(c) for c in self.meta["palette"]]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        size = tuple(self.meta["input_size"])
        if not self.meta.get("dynamic_shapes") and tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        outs = []
        for item in x.float().cpu().numpy():  # static exports have batch 1
            outs.append(self.session.run(None, {"input": item[None]})[0])
        y = torch.from_numpy(np.concatenate(outs))
        if self.meta["output"] == "argmax":
            return F.one_hot(y.long(), self.num_classes).permute(0, 3, 1, 2).float()
        return y


# ----------------------------------------------------------------------------- results
@dataclass
class SegResult:
    """One prediction: ``mask`` ``(H, W)`` int64 at the input size, optional ``probs``."""

    mask: torch.Tensor
    image: np.ndarray
    palette: Palette
    probs: torch.Tensor | None = None
    latency_ms: float = 0.0

    def colorize(self) -> Image.Image:
        """The colour mask."""
        return colorize(self.mask, self.palette)

    def overlay(self, alpha: float = 0.5) -> Image.Image:
        """The input image blended with the colour mask."""
        return overlay(self.image, self.mask, self.palette, alpha)

    def save(self, path: str | os.PathLike[str], kind: str = "mask") -> Path:
        """Write ``"mask"`` (label PNG), ``"color"`` or ``"overlay"`` atomically."""
        images = {
            "mask": lambda: Image.fromarray(self.mask.numpy().astype(np.uint8), mode="L"),
            "color": self.colorize,
            "overlay": self.overlay,
        }
        if kind not in images:
            raise ValueError(f"kind must be one of {sorted(images)}, got {kind!r}")
        return _save_atomic(images[kind](), Path(path))


def _save_atomic(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        image.save(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


# ----------------------------------------------------------------------------- segmenter
class Segmenter:
    """Predict label masks at the input size.

    Args:
        model: a segmentation model (``forward`` -> ``(B, C, h, w)`` logits) or an
            :class:`OnnxModel`. Torch models are put in eval mode with batch norms folded.
        mode: ``"whole"`` (one pass per scale) or ``"slide"`` (``crop_size`` windows moved by
            ``stride``, overlapping logits averaged).
        scales: image scales whose softmax outputs are averaged (e.g. ``(0.75, 1.0, 1.25)``).
        flip: also average the horizontally flipped prediction.
        size: resize every image to ``(H, W)`` before inference (masks still come back at the
            original size).
        device, dtype: where and in which precision to run (``torch.bfloat16`` on CPU works).
        palette: colours for ``SegResult.colorize``; default from the model's dataset.
    """

    def __init__(
        self,
        model: nn.Module | OnnxModel,
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
        if mode not in ("whole", "slide"):
            raise ValueError(f"mode must be 'whole' or 'slide', got {mode!r}")
        if not scales or any(s <= 0 for s in scales):
            raise ValueError(f"scales must be positive, got {tuple(scales)}")
        cfg = getattr(model, "pretrained_cfg", None)
        if getattr(cfg, "task", "segmentation") != "segmentation":
            raise ValueError("Segmenter needs a segmentation model, got a classification model")
        self.device = torch.device(device)
        self.dtype = dtype
        if isinstance(model, nn.Module):
            from ffseg.deploy.fuse import prepare_for_inference

            model = prepare_for_inference(
                model, device=self.device, dtype=dtype, channels_last=channels_last
            )
        self.model = model
        self.channels_last = channels_last
        self.mode, self.scales, self.flip = mode, tuple(scales), flip
        default_crop = tuple(cfg.input_size[1:]) if hasattr(cfg, "input_size") else (512, 512)
        self.crop_size = tuple(crop_size or default_crop)
        self.stride = tuple(stride or (self.crop_size[0] * 2 // 3, self.crop_size[1] * 2 // 3))
        self.size = size
        self.mean = torch.tensor(cfg.mean).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(cfg.std).view(1, 3, 1, 1) * 255.0
        if palette is None:
            palette = getattr(model, "palette", None) or palette_for(cfg)
        self.palette = list(palette)

    @classmethod
    def from_onnx(cls, path: str | os.PathLike[str], **kwargs: Any) -> Segmenter:
        """A segmenter running an exported ONNX file with its sidecar's preprocessing."""
        threads = kwargs.pop("threads", None)
        return cls(OnnxModel(path, threads=threads), **kwargs)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.model, nn.Module):
            x = x.to(self.device, self.dtype or torch.float32)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x).float().cpu()

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "whole":
            return self._forward(x)
        return self._slide(x)

    def _slide(self, x: torch.Tensor) -> torch.Tensor:
        ch, cw = self.crop_size
        sh, sw = self.stride
        _, _, h, w = x.shape
        pad_h, pad_w = max(ch - h, 0), max(cw - w, 0)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        hp, wp = x.shape[-2:]
        total: torch.Tensor | None = None
        count = torch.zeros(1, 1, hp, wp)
        rows = range(0, max(hp - ch, 0) + sh, sh)
        cols = range(0, max(wp - cw, 0) + sw, sw)
        for top in rows:
            for left in cols:
                t, le = min(top, hp - ch), min(left, wp - cw)
                crop = x[..., t : t + ch, le : le + cw]
                logits = F.interpolate(
                    self._forward(crop), size=(ch, cw), mode="bilinear", align_corners=False
                )
                if total is None:
                    total = torch.zeros(x.shape[0], logits.shape[1], hp, wp)
                total[..., t : t + ch, le : le + cw] += logits
                count[..., t : t + ch, le : le + cw] += 1
        assert total is not None
        return (total / count)[..., :h, :w]

    @torch.inference_mode()
    def predict_batch(self, batch: torch.Tensor, return_probs: bool = False) -> list[SegResult]:
        """Predict a uint8 ``(B, 3, H, W)`` batch of raw RGB images."""
        images = batch.permute(0, 2, 3, 1).numpy()
        h, w = batch.shape[-2:]
        x = batch.float()
        if self.size is not None:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        start = time.perf_counter()
        probs = torch.zeros(0)
        for scale in self.scales:
            xs = x
            if scale != 1.0:
                sh, sw = (round(x.shape[-2] * scale), round(x.shape[-1] * scale))
                xs = F.interpolate(x, size=(sh, sw), mode="bilinear", align_corners=False)
            check_input_size(self.model, xs.shape[-2:] if self.mode == "whole" else self.crop_size)
            views = [xs, xs.flip(-1)] if self.flip else [xs]
            for i, view in enumerate(views):
                logits = self._logits(view)
                if i == 1:
                    logits = logits.flip(-1)
                p = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
                p = p.softmax(1)
                probs = p if probs.numel() == 0 else probs + p
        probs /= len(self.scales) * (2 if self.flip else 1)
        masks = probs.argmax(1)
        latency = (time.perf_counter() - start) * 1000.0 / len(batch)
        return [
            SegResult(
                masks[i], images[i], self.palette, probs[i] if return_probs else None, latency
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


# ----------------------------------------------------------------------------- video
def _open_video(path: Path) -> Any:
    import av

    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        return av.open(str(path))
    except Exception as exc:
        raise ValueError(
            f"cannot open video {path}: {exc}. Is it a video file PyAV/FFmpeg can read?"
        ) from exc


def iter_video_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """RGB ``uint8`` frames of a video file, decoded one at a time."""
    container = _open_video(Path(path))
    try:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")
    finally:
        container.close()


def segment_video(
    segmenter: Segmenter,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    kind: str = "overlay",
    fps: float | None = None,
    progress: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]] | None = None,
) -> list[float]:
    """Segment a video frame by frame into ``output`` (mp4); returns per-frame latency in ms.

    ``kind`` is ``"overlay"`` or ``"color"``. The output is written under a temporary name and
    renamed when complete.
    """
    import av

    source, output = Path(source), Path(output)
    with _open_video(source) as probe:
        if not probe.streams.video:
            raise ValueError(f"{source} has no video stream")
        stream_in = probe.streams.video[0]
        rate = fps or float(stream_in.average_rate or 25)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=output.suffix, dir=output.parent)
    os.close(fd)
    latencies: list[float] = []
    frames = iter_video_frames(source)
    if progress is not None:
        frames = progress(frames)
    try:
        with av.open(tmp, mode="w") as container:
            stream = None
            for frame in frames:
                result = segmenter(frame)
                assert isinstance(result, SegResult)
                latencies.append(result.latency_ms)
                picture = result.overlay() if kind == "overlay" else result.colorize()
                if stream is None:
                    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
                    stream = container.add_stream(codec, rate=round(rate))
                    stream.width, stream.height = picture.size[0] // 2 * 2, picture.size[1] // 2 * 2
                    stream.pix_fmt = "yuv420p"
                if picture.size != (stream.width, stream.height):
                    picture = picture.crop((0, 0, stream.width, stream.height))
                for packet in stream.encode(av.VideoFrame.from_image(picture)):
                    container.mux(packet)
            if stream is None:
                raise ValueError(f"video {source} has no decodable frames")
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, output)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return latencies
