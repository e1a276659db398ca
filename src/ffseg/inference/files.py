"""Segmenting files: one image, a folder of images, or a video, into an output folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ffseg.inference.images import load_image
from ffseg.inference.segmenter import Segmenter, SegResult
from ffseg.inference.video import segment_video

__all__ = ["IMAGE_SUFFIXES", "MASK_KINDS", "VIDEO_SUFFIXES", "segment_images", "segment_path"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
#: What can be written per image: ``<stem>.png`` label mask, ``<stem>_<kind>.png`` otherwise.
MASK_KINDS = ("mask", "color", "overlay")

Progress = Callable[[Iterable[Any]], Iterable[Any]]


def _same_size_batches(
    images: Iterable[tuple[Path, np.ndarray]], size: int
) -> Iterator[list[tuple[Path, np.ndarray]]]:
    """Consecutive images of one size, at most ``size`` at a time."""
    batch: list[tuple[Path, np.ndarray]] = []
    for item in images:
        if batch and (len(batch) == size or item[1].shape != batch[0][1].shape):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def _save(result: SegResult, out: Path, stem: str, kinds: Sequence[str]) -> None:
    for kind in kinds:
        name = f"{stem}.png" if kind == "mask" else f"{stem}_{kind}.png"
        result.save(out / name, kind)


def segment_images(
    segmenter: Segmenter,
    paths: Sequence[Path],
    out: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = ("mask",),
    batch_size: int = 1,
    progress: Progress | None = None,
) -> list[float]:
    """Segment image files into ``out`` (see :data:`MASK_KINDS`); per-image latency in ms.

    Consecutive images of the same size run as one batch of up to ``batch_size``.
    """
    unknown = set(kinds) - set(MASK_KINDS)
    if unknown:
        raise ValueError(f"kinds must be among {MASK_KINDS}, got {sorted(unknown)}")
    out = Path(out)
    loaded = ((p, load_image(p)) for p in (progress(paths) if progress else paths))
    latencies: list[float] = []
    for batch in _same_size_batches(loaded, max(1, batch_size)):
        tensor = torch.stack([torch.from_numpy(np.array(img)).permute(2, 0, 1) for _, img in batch])
        for (path, _), result in zip(batch, segmenter.predict_batch(tensor)):
            latencies.append(result.latency_ms)
            _save(result, out, path.stem, kinds)
    return latencies


def segment_path(
    segmenter: Segmenter,
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = ("mask",),
    batch_size: int = 1,
    progress: Progress | None = None,
) -> tuple[list[Path], list[float]]:
    """Segment an image, a folder of images or a video into the folder ``out``.

    A video becomes ``<stem>_overlay.mp4`` (or ``_color.mp4`` when ``kinds`` has ``"color"``).
    Returns the written files (the video, or the source images) and per-item latency in ms.
    """
    source, out = Path(source), Path(out)
    if not source.exists():
        raise FileNotFoundError(f"source {source} does not exist")
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        kind = "color" if "color" in kinds else "overlay"
        target = out / f"{source.stem}_{kind}.mp4"
        latencies = segment_video(segmenter, source, target, kind=kind, progress=progress)
        return [target], latencies
    if source.is_dir():
        images = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}")
    else:
        images = [source]
    latencies = segment_images(
        segmenter, images, out, kinds=kinds, batch_size=batch_size, progress=progress
    )
    return images, latencies
