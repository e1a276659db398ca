"""Segmenting files: one image, a folder of images, or a video, into an output folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from ffseg.data.decode import IMAGE_SUFFIXES
from ffseg.deploy.extras import require_extra
from ffseg.inference.images import load_image
from ffseg.inference.segmenter import Segmenter, SegResult
from ffseg.inference.video import segment_video

__all__ = [
    "IMAGE_SUFFIXES",
    "MASK_KINDS",
    "VIDEO_SUFFIXES",
    "output_paths",
    "same_size_batches",
    "segment_images",
    "segment_path",
]

_Item = TypeVar("_Item", bound=tuple)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
#: What can be written per image: ``<stem>.png`` label mask, ``<stem>_<kind>.png`` otherwise.
MASK_KINDS = ("mask", "color", "overlay")

Progress = Callable[[Iterable[Any]], Iterable[Any]]
#: Called with each undecodable image and its error when bad images are skipped.
OnBad = Callable[[Path, Exception], None]


def _decoded(paths: Iterable[Path], on_bad: OnBad | None) -> Iterator[tuple[Path, np.ndarray]]:
    """``(path, image)`` for each readable image; undecodable ones go to ``on_bad`` (skipped)
    or, without it, raise naming the file and the way to skip it."""
    for path in paths:
        try:
            image = load_image(path)
        except ValueError as exc:
            if on_bad is None:
                raise ValueError(
                    f"{exc} (ffseg predict --skip-bad / on_bad= skips undecodable images)"
                ) from exc
            on_bad(path, exc)
            continue
        yield path, image


def same_size_batches(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    """Consecutive ``(key, image, ...)`` items whose images have one shape, at most ``size``
    at a time."""
    batch: list[_Item] = []
    for item in items:
        if batch and (len(batch) == size or item[1].shape != batch[0][1].shape):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def output_paths(out: Path, stem: str, kinds: Sequence[str]) -> list[Path]:
    """The files of image ``stem``, one per kind: ``<stem>.png`` (mask), ``<stem>_<kind>.png``."""
    return [out / (f"{stem}.png" if kind == "mask" else f"{stem}_{kind}.png") for kind in kinds]


def _save(result: SegResult, out: Path, stem: str, kinds: Sequence[str]) -> None:
    for kind, path in zip(kinds, output_paths(out, stem, kinds)):
        result.save(path, kind)


def segment_images(
    segmenter: Segmenter,
    paths: Sequence[Path],
    out: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = ("mask",),
    batch_size: int = 1,
    progress: Progress | None = None,
    on_bad: OnBad | None = None,
) -> list[float]:
    """Segment image files into ``out`` (see :data:`MASK_KINDS`); per-image latency in ms.

    Consecutive images of the same size run as one batch of up to ``batch_size``. An image
    that cannot be decoded is an error, or, with ``on_bad``, reported to it and skipped.
    """
    unknown = set(kinds) - set(MASK_KINDS)
    if unknown:
        raise ValueError(f"kinds must be among {MASK_KINDS}, got {sorted(unknown)}")
    out = Path(out)
    loaded = _decoded(progress(paths) if progress else paths, on_bad)
    latencies: list[float] = []
    for batch in same_size_batches(loaded, max(1, batch_size)):
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
    on_bad: OnBad | None = None,
    save_masks: bool = False,
) -> tuple[list[Path], list[float]]:
    """Segment an image, a folder of images or a video into the folder ``out``.

    A video becomes ``<stem>_overlay.mp4`` (or the colour-mask video ``<stem>_color.mp4`` when
    ``kinds`` has ``"color"``); with ``save_masks`` also one label-mask PNG per frame in
    ``<stem>_masks/`` (a lossy video cannot hold exact labels). Returns the written files (the
    video and mask folder, or the images segmented) and per-item latency in ms. ``on_bad``:
    see :func:`segment_images`.
    """
    source, out = Path(source), Path(out)
    if not source.exists():
        raise FileNotFoundError(f"source {source} does not exist")
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        require_extra("video", "av", purpose=f"segmenting the video {source}")
        kind = "color" if "color" in kinds else "overlay"
        target = out / f"{source.stem}_{kind}.mp4"
        mask_dir = out / f"{source.stem}_masks" if save_masks else None
        latencies = segment_video(
            segmenter, source, target, kind=kind, progress=progress, mask_dir=mask_dir
        )
        return [target] + ([mask_dir] if mask_dir else []), latencies
    if source.is_dir():
        images = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}")
    else:
        images = [source]
    bad: list[Path] = []

    def skip(path: Path, exc: Exception) -> None:
        bad.append(path)
        if on_bad is not None:
            on_bad(path, exc)

    options = dict(kinds=kinds, batch_size=batch_size, progress=progress)
    latencies = segment_images(segmenter, images, out, on_bad=skip if on_bad else None, **options)
    return [p for p in images if p not in bad], latencies
