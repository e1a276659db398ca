"""Optional dependencies (pip extras), checked before any work starts.

``require_extra("export", "onnx", "onnxruntime")`` raises :class:`MissingExtraError` naming the
extra to install when a module is missing, so a verb fails in its first second, not after a
benchmark or a training run. Nothing here imports the optional modules themselves.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRA_MODULES", "MissingExtraError", "extra_for_module", "require_extra"]

#: The pip extra of each optional module (``pip install 'ffseg[EXTRA]'``).
EXTRA_MODULES: dict[str, str] = {
    "onnx": "export",
    "onnxruntime": "export",
    "onnxscript": "export",
    "onnxslim": "export",
    "openvino": "openvino",
    "nncf": "openvino",
    "matplotlib": "plot",
    "av": "video",
    "optuna": "tune",
    "ray": "ray",
    "tensorboard": "log",
    "segmentation_models_pytorch": "smp",
    "fastapi": "serve",
    "uvicorn": "serve",
    "httpx": "serve",
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install or a module set to None
        return False


def extra_for_module(module: str) -> str | None:
    """The extra that installs ``module`` (its top-level package), or ``None``."""
    return EXTRA_MODULES.get(module.split(".")[0])


def require_extra(extra: str, *modules: str, purpose: str = "") -> None:
    """Raise :class:`MissingExtraError` unless every module of ``modules`` is importable.

    ``purpose`` says what needs them (e.g. ``"ffseg export"``); the message names the
    missing modules and ``pip install 'ffseg[EXTRA]'``.
    """
    missing = [m for m in modules if not _installed(m)]
    if missing:
        who = f"{purpose} needs" if purpose else "this needs"
        raise MissingExtraError(
            f"{who} {', '.join(missing)}, which is not installed: pip install 'ffseg[{extra}]'"
        )
