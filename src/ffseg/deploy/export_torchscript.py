"""TorchScript export (``torch.jit.trace``), verified after reload."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ffseg.deploy.export_common import ExportReport, export_verified, prepare_wrapper
from ffseg.deploy.model_info import input_size_of

__all__ = ["export_torchscript"]


def export_torchscript(
    model: nn.Module,
    path: str | os.PathLike[str],
    input_size: tuple[int, int] | None = None,
    *,
    output: str = "logits",
    resize_to_input: bool = False,
    rtol: float = 1e-4,
) -> ExportReport:
    """Trace the folded model with ``torch.jit.trace``, verify it and save it atomically."""
    size = input_size_of(model, input_size)
    wrapper = prepare_wrapper(model, output, resize_to_input, size)
    x = torch.randn(1, 3, *size)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapper, x, check_trace=False)

    def load(tmp: str) -> Callable[[torch.Tensor], np.ndarray]:
        module = torch.jit.load(tmp)
        return lambda t: module(t).numpy()

    save = partial(torch.jit.save, traced)
    with warnings.catch_warnings():  # torch.jit.save / load announce their deprecation
        warnings.simplefilter("ignore", FutureWarning)
        return export_verified(
            "torchscript", Path(path), wrapper, [x], save, load, output=output, rtol=rtol
        )
