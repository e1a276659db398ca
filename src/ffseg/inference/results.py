"""The results API: ``ffseg.load(path).predict(source)`` gives one :class:`SegResult` per image.

:func:`load` turns a saved model (a training run folder, a ``save_pretrained`` folder, a
checkpoint file with its architecture name, or any exported file with its sidecar) into a
:class:`Predictor`; :meth:`Predictor.predict` runs it over any source
:func:`~ffseg.inference.sources.iter_source` reads, with the preprocessing of ``ffseg predict``
(:class:`~ffseg.inference.segmenter.Segmenter`), so the masks are the same.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ffseg.deploy.artifacts import artifact_kind, is_exported
from ffseg.deploy.exported import ExportedModel
from ffseg.deploy.model_info import input_size_of, model_name
from ffseg.engine.precision import resolve_precision
from ffseg.inference.segmenter import Segmenter, SegResult
from ffseg.inference.sources import OnBad, Source, iter_source, same_size_batches
from ffseg.models import load_model

__all__ = ["CHECKPOINT_SUFFIXES", "Predictor", "load", "load_segmenter"]

log = logging.getLogger(__name__)

#: Weight files that need the architecture's name (``load(path, model="NAME")``).
CHECKPOINT_SUFFIXES = {".pt", ".pth", ".safetensors", ".bin"}


def load_segmenter(
    path: str | os.PathLike[str],
    *,
    model: str | None = None,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    threads: int | None = None,
    **options: Any,
) -> Segmenter:
    """The one place that turns a saved model into a :class:`Segmenter`.

    ``path``: a run folder or ``save_pretrained`` folder, a checkpoint file (``model`` names
    its architecture) or any file ``ffseg export`` writes: ONNX, OpenVINO IR, ``.pt2``,
    TorchScript (``threads``: the runtime's threads). ``options``
    go to :class:`Segmenter` (``mode``, ``scales``, ``flip``, ``size``, ...).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"model {path} does not exist; pass a run folder, a save_pretrained folder, "
            "a checkpoint file (with its model name) or an exported .onnx"
        )
    if path.is_file() and is_exported(path):  # ONNX, OpenVINO IR, .pt2, TorchScript
        return Segmenter.from_artifact(path, threads=threads, **options)
    if path.is_file() and path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise ValueError(
            f"model {path}: unknown file type {path.suffix!r}; pass a folder, an exported file "
            f"(.onnx, OpenVINO .xml, .pt2, TorchScript) or a checkpoint "
            f"({', '.join(sorted(CHECKPOINT_SUFFIXES))})"
        )
    if path.is_file() and model is None:
        raise ValueError(f"checkpoint {path} needs its architecture: load({path}, model=NAME)")
    torch_device = torch.device(device)
    dtype = resolve_precision(precision, torch_device, what="precision").dtype
    network = load_model(path, name=model).eval()
    return Segmenter(network, device=torch_device, dtype=dtype, **options)


class Predictor:
    """A loaded model that predicts any source; made by :func:`load`.

    ``predict(source)`` returns a list of :class:`SegResult` (``stream=True``: a generator, for
    videos and live streams); each result has ``.mask``, ``.probs`` (with ``probs=True``),
    ``.plot()`` / ``.overlay()``, ``.save(path, kind)``, ``.areas()`` and ``.name``.
    """

    def __init__(self, segmenter: Segmenter, name: str = "") -> None:
        self.segmenter = segmenter
        self.name = name or model_name(segmenter.model)

    @property
    def classes(self) -> list[str]:
        return list(self.segmenter.classes)

    @property
    def palette(self) -> list[tuple[int, int, int]]:
        return [tuple(int(v) for v in c) for c in self.segmenter.palette]  # type: ignore[misc]

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's native ``(H, W)`` (images run at their own size unless ``size`` is set)."""
        return input_size_of(self.segmenter.model)

    @property
    def backend(self) -> str:
        """``onnxruntime``, ``openvino``, ``torch.export``, ``torchscript`` or ``torch (DEVICE)``."""
        model = self.segmenter.model
        if isinstance(model, ExportedModel):
            kind = artifact_kind(model.path)
            return "onnxruntime" if kind == "onnx" else kind
        return f"torch ({self.segmenter.device.type})"

    def info(self) -> dict[str, Any]:
        """Name, classes, palette, input size, resize and backend (what ``GET /model`` serves)."""
        return {
            "name": self.name,
            "classes": self.classes,
            "palette": [list(c) for c in self.palette],
            "input_size": list(self.input_size),
            "resize": list(self.segmenter.size) if self.segmenter.size else None,
            "backend": self.backend,
        }

    def predict_images(
        self, images: list[np.ndarray], probs: bool = False, names: list[str] | None = None
    ) -> list[SegResult]:
        """One batch of RGB ``uint8`` ``(H, W, 3)`` images of one size."""
        tensor = torch.stack([torch.from_numpy(np.array(img)).permute(2, 0, 1) for img in images])
        results = self.segmenter.predict_batch(tensor, return_probs=probs)
        for result, name in zip(results, names or [""] * len(results)):
            result.name = name
        return results

    def _stream(
        self, source: Source, batch: int, probs: bool, on_bad: OnBad | None
    ) -> Iterator[SegResult]:
        for group in same_size_batches(iter_source(source, on_bad), max(1, int(batch))):
            names = [name for name, _ in group]
            yield from self.predict_images([image for _, image in group], probs, names)

    def predict(
        self,
        source: Source,
        *,
        stream: bool = False,
        batch: int = 1,
        probs: bool = False,
        on_bad: OnBad | None = None,
    ) -> list[SegResult] | Iterator[SegResult]:
        """Segment ``source`` (see :func:`~ffseg.inference.sources.iter_source`).

        ``batch``: consecutive images of one size run together, up to this many. ``stream``:
        return a generator that decodes and predicts one batch at a time (needed for long videos
        and live streams, which would not fit in memory as a list). ``on_bad(path, error)``:
        skip undecodable image files, reporting each (default: raise naming the file).
        """
        if int(batch) < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        results = self._stream(source, batch, probs, on_bad)
        return results if stream else list(results)

    __call__ = predict

    def __repr__(self) -> str:
        return f"Predictor({self.name!r}, classes={len(self.classes)}, backend={self.backend!r})"


def load(path: str | os.PathLike[str], **options: Any) -> Predictor:
    """Load a saved model for prediction: ``ffseg.load("runs/exp").predict("images/")``.

    ``path`` and ``options`` are those of :func:`load_segmenter` (``model``, ``device``,
    ``precision``, ``threads``, and :class:`Segmenter`'s ``mode``, ``scales``, ``size``...).
    """
    return Predictor(load_segmenter(path, **options))
