"""ffseg: fast, simple semantic segmentation in PyTorch."""

from ffseg.config import Config, load_config
from ffseg.data import build_dataset
from ffseg.deploy import prepare_for_inference
from ffseg.engine.evaluate import evaluate
from ffseg.engine.train import fit
from ffseg.inference import Segmenter, SegResult
from ffseg.metrics import ConfusionMatrix
from ffseg.models import (
    AuxOutput,
    PretrainedCfg,
    SegOutput,
    create_model,
    is_model,
    list_models,
    load_pretrained,
    save_pretrained,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "AuxOutput",
    "Config",
    "ConfusionMatrix",
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
    "load_config",
    "load_pretrained",
    "prepare_for_inference",
    "save_pretrained",
]
