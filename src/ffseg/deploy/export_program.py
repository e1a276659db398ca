"""``torch.export`` program export (``.pt2``), verified after reload."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ffseg.deploy.export_common import ExportReport, export_verified, prepare_wrapper
from ffseg.deploy.model_info import input_size_of

__all__ = ["export_program"]


def export_program(
    model: nn.Module,
    path: str | os.PathLike[str],
    input_size: tuple[int, int] | None = None,
    *,
    output: str = "logits",
    resize_to_input: bool = False,
    rtol: float = 1e-4,
) -> ExportReport:
    """Save a ``torch.export`` program (``.pt2``) of the folded model, verified after reload."""
    size = input_size_of(model, input_size)
    wrapper = prepare_wrapper(model, output, resize_to_input, size)
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        program = torch.export.export(wrapper, (x,))

    def load(tmp: str) -> Callable[[torch.Tensor], np.ndarray]:
        module = torch.export.load(tmp).module()
        return lambda t: module(t).numpy()

    save = partial(torch.export.save, program)
    return export_verified(
        "torch.export", Path(path), wrapper, [x], save, load, output=output, rtol=rtol
    )
