"""Inference on images and videos: :class:`Segmenter` and its results.

``Segmenter`` wraps a model (or an exported ONNX file, :class:`ffseg.deploy.ort.OnnxModel`) and
turns a path, PIL image, ndarray or tensor into a label mask at the input's size, with optional
class probabilities, multi-scale and flip averaging, and whole-image or sliding-window
inference. Palettes live in :mod:`ffseg.classes`, drawing in :mod:`ffseg.viz`.
"""

from ffseg.deploy.ort import OnnxModel
from ffseg.inference.images import ImageInput, load_image, save_image
from ffseg.inference.segmenter import Segmenter, SegResult
from ffseg.inference.video import iter_video_frames, segment_video

__all__ = [
    "ImageInput",
    "OnnxModel",
    "SegResult",
    "Segmenter",
    "iter_video_frames",
    "load_image",
    "save_image",
    "segment_video",
]
