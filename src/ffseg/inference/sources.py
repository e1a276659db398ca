"""Every kind of input the results API predicts, as one stream of named RGB images.

:func:`iter_source` turns a path (image, folder, video), a glob, a list, an array / PIL image /
tensor (one image or a batch), a webcam index or a stream URL (RTSP, RTMP, HTTP, ...) into
``(name, image)`` pairs, each image an RGB ``uint8`` ``(H, W, 3)`` array decoded only when it
is reached. Videos, webcams and streams are read with PyAV (the ``video`` extra).
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import numpy as np
import torch
from PIL import Image

from ffseg.data.decode import IMAGE_SUFFIXES
from ffseg.deploy.extras import require_extra
from ffseg.inference.images import load_image
from ffseg.inference.video import iter_video_frames

__all__ = [
    "IMAGE_SUFFIXES",
    "STREAM_SCHEMES",
    "VIDEO_SUFFIXES",
    "OnBad",
    "Source",
    "iter_source",
    "same_size_batches",
]

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}

#: URL schemes read as live streams through PyAV / FFmpeg.
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt")

#: What :func:`iter_source` accepts (a list may mix them).
Source: TypeAlias = (
    str | os.PathLike[str] | int | np.ndarray | Image.Image | torch.Tensor | Sequence[Any]
)

Item = tuple[str, np.ndarray]
#: Called with each undecodable image file and its error, which is then skipped.
OnBad = Callable[[Path, Exception], None]


_Item = TypeVar("_Item", bound=tuple)


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


def _is_url(text: str) -> bool:
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() in STREAM_SCHEMES


def _av_frames(target: str, fmt: str | None, options: dict[str, str], what: str) -> Iterator:
    """RGB frames of a webcam or stream opened by PyAV, decoded one at a time."""
    require_extra("video", "av", purpose=f"reading {what}")
    import av

    try:
        container = av.open(target, format=fmt, options=options, timeout=(10.0, 30.0))
    except Exception as exc:
        raise ValueError(
            f"cannot open {what}: {exc}. Check that it exists and FFmpeg can read it."
        ) from exc
    with container:
        if not container.streams.video:
            raise ValueError(f"{what} has no video stream")
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def _webcam(index: int) -> Iterator[np.ndarray]:
    if sys.platform.startswith("linux"):
        return _av_frames(f"/dev/video{index}", "v4l2", {}, f"webcam {index} (/dev/video{index})")
    if sys.platform == "darwin":
        return _av_frames(str(index), "avfoundation", {"framerate": "30"}, f"webcam {index}")
    raise ValueError(
        f"webcam index {index}: only Linux (v4l2) and macOS (avfoundation) are supported; "
        "pass the camera as a stream URL instead"
    )


def _numbered(prefix: str, frames: Iterable[np.ndarray]) -> Iterator[Item]:
    for i, frame in enumerate(frames):
        yield f"{prefix}_{i:06d}", frame


def _path_items(path: Path, on_bad: OnBad | None) -> Iterator[Item]:
    suffix = path.suffix.lower()
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.suffix.lower() in {*IMAGE_SUFFIXES, *VIDEO_SUFFIXES}
        )
        if not files:
            raise ValueError(
                f"no images or videos ({', '.join(sorted({*IMAGE_SUFFIXES, *VIDEO_SUFFIXES}))}) "
                f"in {path}"
            )
        for file in files:
            yield from _path_items(file, on_bad)
    elif suffix in VIDEO_SUFFIXES:
        require_extra("video", "av", purpose=f"reading the video {path}")
        yield from _numbered(path.stem, iter_video_frames(path))
    else:
        try:
            image = load_image(path)
        except ValueError as exc:
            if on_bad is None:
                raise ValueError(
                    f"{exc} (ffseg predict --skip-bad / on_bad= skips undecodable images)"
                ) from exc
            on_bad(path, exc)
            return
        yield path.stem, image


def _array_items(source: np.ndarray | torch.Tensor) -> Iterator[Item]:
    batched = source.ndim == 4
    images = list(source) if batched else [source]
    for i, image in enumerate(images):
        yield (f"image_{i:06d}" if batched else "image"), load_image(image)


def iter_source(source: Source, on_bad: OnBad | None = None) -> Iterator[Item]:
    """``(name, RGB uint8 (H, W, 3) image)`` for every image of ``source``.

    Names: a file's stem; ``<stem>_<frame>`` for video frames; ``webcam<i>_<frame>`` and
    ``stream_<frame>`` for live sources; ``image`` / ``image_<i>`` for arrays and tensors.
    Raises ``FileNotFoundError`` / ``ValueError`` naming the source it cannot read; with
    ``on_bad``, an undecodable image file is reported to it and skipped instead.
    """
    if isinstance(source, bool):
        raise TypeError(f"unsupported source {source!r}")
    if isinstance(source, int):
        yield from _numbered(f"webcam{source}", _webcam(source))
    elif isinstance(source, (np.ndarray, torch.Tensor)):
        yield from _array_items(source)
    elif isinstance(source, Image.Image):
        yield "image", load_image(source)
    elif isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if _is_url(text):
            options = {"rtsp_transport": "tcp"} if text.lower().startswith("rtsp") else {}
            yield from _numbered("stream", _av_frames(text, None, options, f"stream {text}"))
            return
        path = Path(text).expanduser()
        if path.exists():
            yield from _path_items(path, on_bad)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(os.path.expanduser(text), recursive=True))
            if not matches:
                raise FileNotFoundError(f"no file matches the pattern {text!r}")
            for match in matches:
                yield from _path_items(Path(match), on_bad)
        else:
            raise FileNotFoundError(
                f"source {text} does not exist (pass an image, folder, video, glob or URL)"
            )
    elif isinstance(source, (list, tuple)):
        for item in source:
            yield from iter_source(item, on_bad)
    else:
        raise TypeError(
            f"unsupported source of type {type(source).__name__}; pass a path, folder, glob, "
            "URL, webcam index, array, PIL image, tensor or a list of them"
        )
