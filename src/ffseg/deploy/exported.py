"""Exported artifacts called like a model: the base every runtime shares, and the two torch ones.

:class:`ExportedModel` reads the sidecar (``pretrained_cfg``: mean/std, input size, classes,
palette), resizes inputs of a static export to its size, runs one image at a time and turns an
``argmax`` export back into one-hot scores, so evaluation and ``Segmenter`` treat every runtime
alike; a subclass only runs ``[1, 3, H, W]`` arrays. :class:`TorchScriptModel` (``.ts``/``.pt``)
and :class:`ProgramModel` (``.pt2``) are the torch runtimes.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ffseg.deploy.sidecar import read_sidecar
from ffseg.layers import resize_to
from ffseg.models import PretrainedCfg

__all__ = ["ExportedModel", "ProgramModel", "TorchScriptModel", "cfg_from_sidecar"]


def cfg_from_sidecar(meta: dict[str, Any], path: Path) -> PretrainedCfg:
    """The ``pretrained_cfg`` a sidecar describes (``path`` names the model when it does not)."""
    h, w = meta["input_size"]
    return PretrainedCfg.from_dict(
        {
            **meta,
            "architecture": meta.get("model") or path.stem,
            "input_size": (3, h, w),
            "output_stride": meta.get("output_stride"),
        }
    )


class ExportedModel:
    """An exported file (with its JSON sidecar) that behaves like a model.

    Called with a normalised ``(B, 3, H, W)`` tensor it returns logits-like scores: logits or
    probabilities as exported, or one-hot scores for an ``argmax`` export. Static exports get
    their input resized to the exported size. Subclasses implement :meth:`run`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"exported model not found: {self.path} (see `ffseg export`)")
        self.meta: dict[str, Any] = read_sidecar(self.path)
        try:
            self.pretrained_cfg = cfg_from_sidecar(self.meta, self.path)
            self.output: str = self.meta["output"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"sidecar of {self.path} lacks or mangles {exc}; re-export with `ffseg export`"
            ) from exc
        self.num_classes = self.pretrained_cfg.num_classes
        self.supports_dynamic_shapes = bool(self.meta.get("dynamic_shapes", False))

    def run(self, x: np.ndarray) -> np.ndarray:
        """The artifact's raw output for one normalised ``[1, 3, H, W]`` float32 array."""
        raise NotImplementedError

    def eval(self) -> ExportedModel:
        """No-op, for code that puts a model in eval mode."""
        return self

    def to(self, device: str | torch.device) -> ExportedModel:
        """No-op on the CPU, where exported models run; another device is an error."""
        if torch.device(device).type != "cpu":
            raise ValueError(f"{self.path} runs on the CPU only; pass --device cpu")
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        size = tuple(self.pretrained_cfg.input_size[1:])
        if not self.supports_dynamic_shapes and tuple(x.shape[-2:]) != size:
            x = resize_to(x.float(), size, "bilinear_half")
        batch = np.ascontiguousarray(x.detach().float().cpu().numpy())
        outs = [self.run(item[None]) for item in batch]  # static exports have batch 1
        y = torch.from_numpy(np.concatenate(outs))
        if self.output == "argmax":
            return F.one_hot(y.long(), self.num_classes).permute(0, 3, 1, 2).float()
        return y

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


class _TorchModuleModel(ExportedModel):
    """An exported file that loads back as a PyTorch module (``self.module``)."""

    module: torch.nn.Module

    @torch.no_grad()
    def run(self, x: np.ndarray) -> np.ndarray:
        return self.module(torch.from_numpy(x)).numpy()


class TorchScriptModel(_TorchModuleModel):
    """A TorchScript file written by ``ffseg export`` (``.ts`` / ``.pt``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        with warnings.catch_warnings():  # torch.jit.load announces its deprecation
            warnings.simplefilter("ignore", FutureWarning)
            try:
                self.module = torch.jit.load(str(self.path), map_location="cpu").eval()
            except RuntimeError as exc:
                raise ValueError(
                    f"{self.path} is not a TorchScript file ({exc}); export one with "
                    "`ffseg export --format torchscript`"
                ) from exc


class ProgramModel(_TorchModuleModel):
    """A ``torch.export`` program written by ``ffseg export`` (``.pt2``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        try:
            self.module = torch.export.load(str(self.path)).module()
        except Exception as exc:  # torch.export raises several types for a bad archive
            raise ValueError(
                f"{self.path} is not a torch.export program ({exc}); export one with "
                "`ffseg export --format torch.export`"
            ) from exc
