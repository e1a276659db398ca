"""ffseg: fast, simple semantic segmentation in PyTorch."""

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
    "PretrainedCfg",
    "SegOutput",
    "__version__",
    "create_model",
    "is_model",
    "list_models",
    "load_pretrained",
    "save_pretrained",
]
