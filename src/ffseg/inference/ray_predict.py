"""Batch inference on Ray Data: ``ffseg predict``'s model, preprocessing and output files,
spread over an actor pool on one machine or a cluster.

The driver lists the images (a folder, a glob, a text file of paths, or a list) and leaves out
those whose outputs all exist, so re-running a job that failed finishes it without redoing
work. The rest flow through ``map_batches`` to actors that each hold one :class:`Segmenter`
and write with :func:`~ffseg.inference.files.segment_images`, the same code as ``ffseg
predict``; writes are atomic, so a killed worker leaves whole files or none. A dead actor is
restarted and its batch retried, skipping the images it had finished.
"""

from __future__ import annotations

import glob
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ffseg.deploy.extras import require_extra
from ffseg.inference.files import IMAGE_SUFFIXES, MASK_KINDS, output_paths, segment_images
from ffseg.inference.segmenter import Segmenter

__all__ = ["DatasetResult", "list_images", "predict_dataset"]

#: A source of images: a folder, a glob pattern, a ``.txt`` file of paths, an image, or a list.
ImageSource = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


@dataclass
class DatasetResult:
    """What a :func:`predict_dataset` run did."""

    written: int  #: images segmented by this run
    skipped: int  #: images whose outputs already existed (not computed again)
    seconds: float  #: wall time of the Ray job (actor start-up included)
    bad: list[tuple[Path, str]] = field(default_factory=list)  #: undecodable images, errors
    startup_s: float = 0.0  #: until the first batch was done (workers start, load the model)
    first_batch: int = 0  #: images in that first batch

    @property
    def images_per_s(self) -> float:
        """Images segmented per second of wall time."""
        return self.written / self.seconds if self.seconds > 0 else 0.0

    @property
    def steady_images_per_s(self) -> float:
        """Images per second after the first batch (the pool's rate once started)."""
        busy = self.seconds - self.startup_s
        return (self.written - self.first_batch) / busy if busy > 0 else self.images_per_s


def list_images(source: ImageSource) -> list[Path]:
    """The images of ``source``: a folder's images (sorted), the files a glob pattern matches,
    the paths listed in a ``.txt`` file (one a line, relative to it), one image, or a list."""
    if not isinstance(source, (str, os.PathLike)):
        return [Path(p) for p in source]
    text = os.fspath(source)
    path = Path(text)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        what = f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {path}"
    elif path.is_file() and path.suffix.lower() == ".txt":
        lines = [ln.strip() for ln in path.read_text().splitlines()]
        images = [path.parent / ln for ln in lines if ln and not ln.startswith("#")]
        what = f"the list {path} names no image"
    elif path.is_file():
        images, what = [path], ""
    elif glob.has_magic(text):
        matches = sorted(glob.glob(os.path.expanduser(text), recursive=True))
        images = [Path(p) for p in matches if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        what = f"the pattern {text!r} matches no image"
    else:
        raise FileNotFoundError(
            f"source {text} does not exist (pass a folder, a glob pattern or a .txt list)"
        )
    if not images:
        raise ValueError(what)
    return images


def _check_unique_stems(images: Sequence[Path]) -> None:
    """Outputs are named after the image's stem: two images with one stem would collide."""
    seen: dict[str, Path] = {}
    for path in images:
        other = seen.setdefault(path.stem, path)
        if other != path:
            raise ValueError(
                f"{other} and {path} would write the same output files ({path.stem}*.png); "
                "segment them into different --out folders"
            )


def _done(out: Path, path: Path, kinds: Sequence[str]) -> bool:
    return all(p.is_file() for p in output_paths(out, path.stem, kinds))


class _Predictor:
    """A Ray Data actor: one segmenter, called with batches of image paths."""

    def __init__(
        self,
        segmenter: Any,
        out: str,
        kinds: Sequence[str],
        batch_size: int,
        threads: int,
    ) -> None:
        torch.set_num_threads(threads)
        self.segmenter = segmenter if isinstance(segmenter, Segmenter) else segmenter()
        self.out, self.kinds, self.batch_size = Path(out), list(kinds), batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        paths = [Path(p) for p in batch["path"]]
        todo = [p for p in paths if not _done(self.out, p, self.kinds)]  # a retried batch
        bad: dict[Path, str] = {}
        segment_images(
            self.segmenter,
            todo,
            self.out,
            kinds=self.kinds,
            batch_size=self.batch_size,
            on_bad=lambda path, exc: bad.__setitem__(path, str(exc)),
        )
        return {
            "path": np.array([str(p) for p in paths]),
            "error": np.array([bad.get(p, "") for p in paths]),
        }


def predict_dataset(
    segmenter: Segmenter | Callable[[], Segmenter],
    source: ImageSource,
    out: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = ("mask",),
    batch_size: int = 1,
    workers: int = 2,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    images_per_task: int | None = None,
    address: str | None = None,
    skip_bad: bool = False,
) -> DatasetResult:
    """Segment the images of ``source`` into ``out`` with a pool of ``workers`` Ray actors.

    Writes exactly what ``ffseg predict`` writes (see :data:`~ffseg.inference.files.MASK_KINDS`)
    and skips images whose outputs all exist. ``segmenter``: a :class:`Segmenter` (sent to
    every worker) or a function building one on the worker (e.g. from an ONNX file on a shared
    disk). Ray: the running instance, else ``ray.init(address)`` (``None``: a new local one,
    ``"auto"``: the cluster this machine belongs to); on a cluster ``out`` and the images must
    be on a disk every node sees at the same path. A worker that dies (killed, out of memory,
    node lost) is restarted by Ray and its batch retried. Undecodable images are an error naming them, after the others are
    written; with ``skip_bad`` they are only listed in the result.
    """
    require_extra("ray", "ray", purpose="batch inference on Ray")
    import ray

    unknown = set(kinds) - set(MASK_KINDS)
    if unknown:
        raise ValueError(f"kinds must be among {MASK_KINDS}, got {sorted(unknown)}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    images = list_images(source)
    _check_unique_stems(images)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = [p for p in images if not _done(out, p, kinds)]
    if not todo:
        return DatasetResult(written=0, skipped=len(images), seconds=0.0)
    # Small tasks balance the workers and lose little when one dies; 16 images amortise a task.
    per_task = images_per_task or max(batch_size, min(16, math.ceil(len(todo) / (4 * workers))))

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        start = time.perf_counter()
        dataset = ray.data.from_items([{"path": str(p.resolve())} for p in todo])
        results = dataset.map_batches(
            _Predictor,
            batch_size=per_task,
            compute=ray.data.ActorPoolStrategy(size=min(workers, math.ceil(len(todo) / per_task))),
            num_cpus=cpus_per_worker,
            num_gpus=gpus_per_worker,
            fn_constructor_kwargs=dict(
                segmenter=segmenter,
                out=str(out.resolve()),
                kinds=list(kinds),
                batch_size=batch_size,
                threads=max(1, int(cpus_per_worker)),
            ),
        )
        bad: list[tuple[Path, str]] = []
        first: tuple[float, int] | None = None  # when the first batch came back, its size
        for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
            first = first or (time.perf_counter() - start, len(batch["path"]))
            bad += [(Path(p), err) for p, err in zip(batch["path"], batch["error"]) if err]
        seconds = time.perf_counter() - start
    finally:
        if started_here:
            ray.shutdown()
    if bad and not skip_bad:
        names = ", ".join(str(p) for p, _ in bad[:3]) + (" ..." if len(bad) > 3 else "")
        raise ValueError(
            f"{len(bad)} undecodable image(s): {names} ({bad[0][1]}); the others were written: "
            "re-run with --skip-bad / skip_bad=True to list them and finish"
        )
    written = len(todo) - len(bad)
    return DatasetResult(written, len(images) - len(todo), seconds, bad, *(first or (0.0, 0)))
