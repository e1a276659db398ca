"""ffseg: fast, simple semantic segmentation in PyTorch.

The public API below is imported on first use (``ffseg.create_model`` loads the models, not
the trainer), so ``import ffseg`` and light commands such as ``ffseg list`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ffseg._version import __version__

if TYPE_CHECKING:
    from ffseg.config import Config, load_config
    from ffseg.data import build_dataset
    from ffseg.deploy import OnnxModel, prepare_for_inference
    from ffseg.engine.evaluate import InferenceSpec, evaluate
    from ffseg.engine.train import FitResult, fit
    from ffseg.inference import Segmenter, SegResult
    from ffseg.inference.ray_predict import predict_dataset
    from ffseg.inference.results import Predictor, load
    from ffseg.metrics import ConfusionMatrix
    from ffseg.models import (
        AuxOutput,
        PretrainedCfg,
        SegOutput,
        create_model,
        is_model,
        list_models,
        load_model,
        load_pretrained,
        save_pretrained,
    )
    from ffseg.tune import tune

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "Config": "ffseg.config",
    "load_config": "ffseg.config",
    "build_dataset": "ffseg.data",
    "OnnxModel": "ffseg.deploy",
    "prepare_for_inference": "ffseg.deploy",
    "InferenceSpec": "ffseg.engine.evaluate",
    "evaluate": "ffseg.engine.evaluate",
    "FitResult": "ffseg.engine.train",
    "fit": "ffseg.engine.train",
    "Segmenter": "ffseg.inference",
    "SegResult": "ffseg.inference",
    "predict_dataset": "ffseg.inference.ray_predict",
    "Predictor": "ffseg.inference.results",
    "load": "ffseg.inference.results",
    "ConfusionMatrix": "ffseg.metrics",
    "AuxOutput": "ffseg.models",
    "PretrainedCfg": "ffseg.models",
    "SegOutput": "ffseg.models",
    "create_model": "ffseg.models",
    "is_model": "ffseg.models",
    "list_models": "ffseg.models",
    "load_model": "ffseg.models",
    "load_pretrained": "ffseg.models",
    "save_pretrained": "ffseg.models",
    "tune": "ffseg.tune",
}

__all__ = [
    "AuxOutput",
    "Config",
    "ConfusionMatrix",
    "FitResult",
    "InferenceSpec",
    "OnnxModel",
    "Predictor",
    "PretrainedCfg",
    "SegOutput",
    "SegResult",
    "Segmenter",
    "__version__",
    "build_dataset",
    "create_model",
    "evaluate",
    "fit",
    "is_model",
    "list_models",
    "load",
    "load_config",
    "load_model",
    "load_pretrained",
    "predict_dataset",
    "prepare_for_inference",
    "save_pretrained",
    "tune",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:  # a subpackage, e.g. ffseg.models
        try:
            value = importlib.import_module(f"ffseg.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ffseg.{name}":
                raise
            raise AttributeError(f"module 'ffseg' has no attribute {name!r}") from None
    else:
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
