"""ONNX Runtime: sessions shared by export, bench and quantize, and :class:`OnnxModel`, an
exported file (with its JSON sidecar) that evaluation and ``Segmenter`` call like a model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ffseg.deploy.exported import ExportedModel
from ffseg.deploy.sidecar import read_sidecar

__all__ = ["OnnxModel", "ort_session", "read_sidecar"]  # read_sidecar: re-exported


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


class OnnxModel(ExportedModel):
    """An exported ONNX file that behaves like a model for evaluation and ``Segmenter``
    (see :class:`~ffseg.deploy.exported.ExportedModel`), run by ONNX Runtime; ``config``:
    extra ONNX Runtime session entries (see :func:`ort_session`)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        threads: int | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        super().__init__(path)
        self.session = ort_session(self.path, threads=threads, config=config)

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input": x})[0]
