"""Segmenting files: one image, a folder of images, or a video, into an output folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ffseg.deploy.extras import require_extra
from ffseg.inference.results import Predictor
from ffseg.inference.segmenter import Segmenter, SegResult
from ffseg.inference.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES, OnBad
from ffseg.inference.video import segment_video

__all__ = [
    "IMAGE_SUFFIXES",
    "MASK_KINDS",
    "VIDEO_SUFFIXES",
    "output_paths",
    "segment_images",
    "segment_path",
]

#: What can be written per image: ``<stem>.png`` label mask, ``<stem>_<kind>.png`` otherwise.
MASK_KINDS = ("mask", "color", "overlay")

Progress = Callable[[Iterable[Any]], Iterable[Any]]


def output_paths(out: Path, stem: str, kinds: Sequence[str]) -> list[Path]:
    """The files of image ``stem``, one per kind: ``<stem>.png`` (mask), ``<stem>_<kind>.png``."""
    return [out / (f"{stem}.png" if kind == "mask" else f"{stem}_{kind}.png") for kind in kinds]


def _save(result: SegResult, out: Path, kinds: Sequence[str]) -> None:
    for kind, path in zip(kinds, output_paths(out, result.name, kinds)):
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

    The results API does the work (:meth:`~ffseg.inference.results.Predictor.predict` over the
    paths, each result saved under its file's stem): consecutive images of the same size run
    as one batch of up to ``batch_size``. An image that cannot be decoded is an error, or,
    with ``on_bad``, reported to it and skipped.
    """
    unknown = set(kinds) - set(MASK_KINDS)
    if unknown:
        raise ValueError(f"kinds must be among {MASK_KINDS}, got {sorted(unknown)}")
    out = Path(out)
    results = Predictor(segmenter).predict(
        list(paths), stream=True, batch=max(1, batch_size), on_bad=on_bad
    )
    latencies: list[float] = []
    for result in progress(results) if progress else results:
        latencies.append(result.latency_ms)
        _save(result, out, kinds)
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
