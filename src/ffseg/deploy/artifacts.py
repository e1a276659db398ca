"""One runtime loader: any artifact ``ffseg export`` (or training) writes, as a callable model.

:func:`load_artifact` takes a run / ``save_pretrained`` folder or a checkpoint (PyTorch, through
:func:`ffseg.models.load_model`; a folder's ``model.safetensors`` stands for its folder), an ONNX file, an OpenVINO IR (``.xml``), a ``torch.export``
program (``.pt2``) or a TorchScript file (``.ts``, or a ``.pt`` that is a TorchScript archive)
and returns something called with a normalised ``(B, 3, H, W)`` tensor that returns scores and
carries ``pretrained_cfg`` (mean/std, input size, classes, palette) and ``num_classes``.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from torch import nn

from ffseg.deploy.exported import ExportedModel, ProgramModel, TorchScriptModel
from ffseg.deploy.extras import require_extra
from ffseg.models import load_model

__all__ = ["ARTIFACT_KINDS", "artifact_kind", "is_exported", "load_artifact"]

#: Exported-artifact kind by file suffix (``.pt`` is TorchScript only when it is an archive of
#: TorchScript code; otherwise a checkpoint).
ARTIFACT_KINDS = {".onnx": "onnx", ".xml": "openvino", ".pt2": "torch.export", ".ts": "torchscript"}


def _is_torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (it holds compiled ``code/``), not a
    ``torch.save`` checkpoint."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def artifact_kind(path: str | os.PathLike[str]) -> str:
    """``"onnx"``, ``"openvino"``, ``"torch.export"``, ``"torchscript"`` or ``"pytorch"`` (a
    folder or a checkpoint file)."""
    path = Path(path)
    if path.is_dir():
        return "pytorch"
    suffix = path.suffix.lower()
    if suffix == ".pt" and path.is_file() and _is_torchscript(path):
        return "torchscript"
    return ARTIFACT_KINDS.get(suffix, "pytorch")


def is_exported(path: str | os.PathLike[str] | None) -> bool:
    """Whether ``path`` is an exported artifact (not a PyTorch folder or checkpoint)."""
    return path is not None and artifact_kind(path) != "pytorch"


def load_artifact(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    num_classes: int | None = None,
    threads: int | None = None,
    **load_options: Any,
) -> nn.Module | ExportedModel:
    """The model in ``path``, ready to call (PyTorch models in eval mode).

    ``name``, ``num_classes`` and ``load_options`` (e.g. ``use_ema``) go to
    :func:`ffseg.models.load_model` for a folder or checkpoint; ``threads`` sets the intra-op
    threads of ONNX Runtime / OpenVINO. An exported file needs its JSON sidecar.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model not found: {path} (a run folder, checkpoint or export)")
    kind = artifact_kind(path)
    if kind == "pytorch":
        if name is None and path.name == "model.safetensors":  # inside a save_pretrained folder
            path = path.parent
        return load_model(path, name=name, num_classes=num_classes, **load_options).eval()
    if kind == "onnx":
        require_extra("export", "onnxruntime", purpose=f"running {path}")
        from ffseg.deploy.ort import OnnxModel

        model: ExportedModel = OnnxModel(path, threads=threads)
    elif kind == "openvino":
        from ffseg.deploy.openvino import OpenVinoModel

        model = OpenVinoModel(path, threads=threads)
    elif kind == "torch.export":
        model = ProgramModel(path)
    else:
        model = TorchScriptModel(path)
    if num_classes is not None and num_classes != model.num_classes:
        raise ValueError(
            f"{path} predicts {model.num_classes} classes but {num_classes} were asked for; "
            f"drop --num-classes or pass --num-classes {model.num_classes}"
        )
    return model
