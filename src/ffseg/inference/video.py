"""Segmenting video files frame by frame (PyAV, an optional extra)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ffseg._io import atomic_write
from ffseg.inference.segmenter import Segmenter, SegResult

__all__ = ["VIDEO_FORMATS", "iter_video_frames", "segment_video"]

#: Container format per output suffix (the temporary file's name cannot tell PyAV).
VIDEO_FORMATS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".avi": "avi",
    ".webm": "webm",
}


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


def _frame_rate(source: Path, fps: float | None) -> float:
    with _open_video(source) as probe:
        if not probe.streams.video:
            raise ValueError(f"{source} has no video stream")
        return fps or float(probe.streams.video[0].average_rate or 25)


def _encode(
    tmp: str, fmt: str, frames: Iterator[np.ndarray], draw: Callable[[np.ndarray], Any], rate: float
) -> None:
    import av

    with av.open(tmp, mode="w", format=fmt) as container:
        stream = None
        for frame in frames:
            picture = draw(frame)
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
            raise ValueError("the video has no decodable frames")
        for packet in stream.encode():
            container.mux(packet)


def segment_video(
    segmenter: Segmenter,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    kind: str = "overlay",
    fps: float | None = None,
    progress: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]] | None = None,
    mask_dir: str | os.PathLike[str] | None = None,
) -> list[float]:
    """Segment a video frame by frame into ``output``; returns per-frame latency in ms.

    ``kind`` is ``"overlay"`` or ``"color"`` (the colour mask video). ``mask_dir``: also
    write each frame's label mask there as ``000000.png``, ``000001.png``, ... The video is
    written under a temporary name and renamed when complete.
    """
    if kind not in ("overlay", "color"):
        raise ValueError(f"kind must be 'overlay' or 'color', got {kind!r}")
    source, output = Path(source), Path(output)
    fmt = VIDEO_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise ValueError(f"output {output} must end in one of {sorted(VIDEO_FORMATS)}")
    rate = _frame_rate(source, fps)
    latencies: list[float] = []
    masks = Path(mask_dir) if mask_dir is not None else None

    def draw(frame: np.ndarray) -> Any:
        result = segmenter(frame)
        assert isinstance(result, SegResult)
        if masks is not None:
            result.save(masks / f"{len(latencies):06d}.png", "mask")
        latencies.append(result.latency_ms)
        return result.overlay() if kind == "overlay" else result.colorize()

    frames = iter_video_frames(source)
    if progress is not None:
        frames = progress(frames)
    atomic_write(output, lambda tmp: _encode(tmp, fmt, frames, draw, rate))
    return latencies
