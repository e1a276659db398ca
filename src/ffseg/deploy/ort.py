"""ONNX Runtime: sessions shared by export, bench and quantize, and :class:`OnnxModel`, an
exported file (with its JSON sidecar) that evaluation and ``Segmenter`` call like a model."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ffseg.layers import resize_to
from ffseg.models import PretrainedCfg

__all__ = ["OnnxModel", "ort_session", "read_sidecar"]


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "onnxruntime is not installed; install the export extra: pip install 'ffseg[export]'"
        ) from exc
    return onnxruntime


def ort_session(
    path: str | os.PathLike[str],
    *,
    threads: int | None = None,
    provider: str = "cpu",
    optimization: str = "all",
    allow_spinning: bool | None = None,
    config: dict[str, str] | None = None,
) -> Any:
    """An ``InferenceSession`` for ``path`` on ``provider`` (``"cpu"`` or ``"cuda"``).

    ``threads`` sets intra-op threads (inter-op is 1: segmentation graphs are sequential).
    ``allow_spinning`` (default: off when ``OMP_WAIT_POLICY=PASSIVE``, as for PyTorch) lets idle
    worker threads busy-wait; on a shared, oversubscribed CPU spinning costs far more than it saves.
    ``config``: extra session config entries (e.g. ``{"session.x64quantprecision": "1"}``).
    Raises ``FileNotFoundError`` / ``RuntimeError`` naming the file when it cannot be loaded.
    """
    ort = _ort()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path} (create it with `ffseg export`)")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    # flush denormals like ``torch.set_flush_denormal(True)``: tiny activations otherwise hit
    # the FPU's slow path (no effect on results beyond 1e-38)
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
    if allow_spinning is None:
        allow_spinning = os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE"
    options.add_session_config_entry("session.intra_op.allow_spinning", str(int(allow_spinning)))
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    options.graph_optimization_level = {
        "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[optimization]
    if provider == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise RuntimeError(
                "CUDAExecutionProvider is not available; install onnxruntime-gpu or use provider='cpu'"
            )
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    elif provider == "cpu":
        providers = ["CPUExecutionProvider"]
    else:
        raise ValueError(f"unknown ONNX Runtime provider {provider!r}; use 'cpu' or 'cuda'")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise RuntimeError(
            f"ONNX Runtime cannot load {path}: {exc}. Re-export it with `ffseg export`."
        ) from exc


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


def _cfg_from_sidecar(meta: dict[str, Any], path: Path) -> PretrainedCfg:
    h, w = meta["input_size"]
    return PretrainedCfg.from_dict(
        {
            **meta,
            "architecture": meta.get("model") or path.stem,
            "input_size": (3, h, w),
            "output_stride": meta.get("output_stride"),
        }
    )


class OnnxModel:
    """An exported ONNX file that behaves like a model for evaluation and ``Segmenter``.

    Called with a normalised ``(B, 3, H, W)`` tensor it returns logits-like scores: logits or
    probabilities as exported, or one-hot scores for an ``argmax`` export. Static exports get
    their input resized to the exported size. ``pretrained_cfg`` comes from the sidecar;
    ``config``: extra ONNX Runtime session entries (see :func:`ort_session`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        threads: int | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.meta: dict[str, Any] = read_sidecar(self.path)
        try:
            self.pretrained_cfg = _cfg_from_sidecar(self.meta, self.path)
            self.output: str = self.meta["output"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"sidecar of {self.path} lacks or mangles {exc}; re-export with `ffseg export`"
            ) from exc
        self.num_classes = self.pretrained_cfg.num_classes
        self.supports_dynamic_shapes = bool(self.meta.get("dynamic_shapes", False))
        self.session = ort_session(self.path, threads=threads, config=config)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        size = tuple(self.pretrained_cfg.input_size[1:])
        if not self.supports_dynamic_shapes and tuple(x.shape[-2:]) != size:
            x = resize_to(x.float(), size, "bilinear_half")
        outs = [  # one image per run: static exports have batch 1
            self.session.run(None, {"input": item[None]})[0] for item in x.float().cpu().numpy()
        ]
        y = torch.from_numpy(np.concatenate(outs))
        if self.output == "argmax":
            return F.one_hot(y.long(), self.num_classes).permute(0, 3, 1, 2).float()
        return y
