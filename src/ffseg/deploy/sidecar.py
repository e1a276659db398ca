"""The JSON sidecar next to an exported artifact: preprocessing, classes, palette, output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ffseg._io import atomic_write_json
from ffseg._version import __version__
from ffseg.classes import palette_for
from ffseg.deploy.export_common import ExportReport

__all__ = ["read_sidecar", "sidecar_dict", "write_sidecar"]


def sidecar_dict(
    model: nn.Module,
    input_size: tuple[int, int],
    *,
    output: str = "logits",
    resize_to_input: bool = False,
    dynamic: bool = False,
    opset: int | None = None,
    precision: str = "fp32",
    simplified: bool = False,
) -> dict[str, Any]:
    """Everything needed to run an exported model: preprocessing, classes, palette, output."""
    cfg = getattr(model, "pretrained_cfg", None)
    num_classes = int(getattr(model, "num_classes", None) or (cfg.num_classes if cfg else 0))
    classes = list(cfg.classes) if cfg is not None and cfg.classes else None
    if classes is not None and len(classes) != num_classes:
        classes = None
    return {
        "model": cfg.architecture if cfg is not None else None,
        "model_args": dict(cfg.model_args) if cfg is not None else {},
        "task": cfg.task if cfg else "segmentation",
        "input_name": "input",
        "input_layout": "NCHW float32 RGB, (x / 255 - mean) / std",
        "input_size": list(input_size),
        "dynamic_shapes": dynamic,
        "min_input_size": list(cfg.min_input_size) if cfg else [32, 32],
        "mean": list(cfg.mean) if cfg else None,
        "std": list(cfg.std) if cfg else None,
        "output_name": "output",
        "output": output,
        "output_stride": 1 if resize_to_input else (cfg.output_stride if cfg else None),
        "resize_to_input": resize_to_input,
        "num_classes": num_classes,
        "classes": classes,
        "palette": [list(c) for c in palette_for(cfg, num_classes)],
        "dataset": cfg.dataset if cfg else None,
        "opset": opset,
        "precision": precision,
        "simplified": simplified,
        "bn_folded": True,
        "versions": {"ffseg": __version__, "torch": torch.__version__},
    }


def write_sidecar(
    model: nn.Module,
    artifact: str | os.PathLike[str],
    input_size: tuple[int, int],
    *,
    verification: ExportReport | None = None,
    **kwargs: Any,
) -> Path:
    """Write ``<artifact stem>.json`` next to the artifact (atomically); returns its path."""
    data = sidecar_dict(model, input_size, **kwargs)
    if verification is not None:
        data["verification"] = {
            "max_abs_diff": verification.max_abs_diff,
            "argmax_agreement": verification.argmax_agreement,
            "checked_shapes": verification.checked_shapes,
        }
    return atomic_write_json(Path(artifact).with_suffix(".json"), data)


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON sidecar written next to an exported artifact (``model.onnx`` -> ``model.json``)."""
    sidecar = Path(path).with_suffix(".json")
    if not sidecar.is_file():
        raise FileNotFoundError(
            f"sidecar {sidecar} not found next to {path}; re-export with `ffseg export`"
        )
    try:
        return json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"sidecar {sidecar} is not valid JSON: {exc}; re-export it") from exc
