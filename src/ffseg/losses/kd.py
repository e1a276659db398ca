"""Knowledge distillation: Hinton logits KD and a frozen teacher built from the recipe."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.losses._utils import resize_logits

__all__ = ["KDLoss", "build_teacher"]

log = logging.getLogger(__name__)


class KDLoss(nn.Module):
    """``T^2 * KL(softmax(t / T) || softmax(s / T))`` averaged over pixels (Hinton et al. 2015).

    Teacher logits are resized to the student's resolution; pixels whose target is
    ``ignore_index`` are skipped when a target is given.
    """

    def __init__(self, temperature: float = 4.0, ignore_index: int = 255) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"KD temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.ignore_index = ignore_index

    def forward(
        self,
        student: torch.Tensor,
        teacher: torch.Tensor,
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        t = self.temperature
        student = student.float()
        teacher = teacher.float()
        if student.ndim == 4:
            teacher = resize_logits(teacher, student.shape[-2:])
        log_p = F.log_softmax(student / t, dim=1)
        log_q = F.log_softmax(teacher / t, dim=1)
        kl = (log_q.exp() * (log_q - log_p)).sum(1)  # (B, h, w) or (B,)
        if target is not None and student.ndim == 4:
            valid = target.unsqueeze(1).float()
            valid = F.interpolate(valid, size=student.shape[-2:], mode="nearest").squeeze(1)
            mask = valid != self.ignore_index
            if not mask.any():
                return student.sum() * 0.0
            return kl[mask].mean() * t * t
        return kl.mean() * t * t


def build_teacher(
    name: str | None,
    checkpoint: str | Path | None,
    num_classes: int,
    kwargs: dict[str, Any] | None = None,
    smp: dict[str, Any] | None = None,
) -> nn.Module:
    """A frozen teacher in eval mode: a registered ffseg model or an SMP model + checkpoint.

    ``checkpoint`` is a local file (state_dict, ffseg ``last.pt`` or ``.safetensors``); the teacher
    must predict the same ``num_classes``.
    """
    if smp is not None:
        try:
            import segmentation_models_pytorch as smp_lib
        except ImportError as exc:
            raise RuntimeError(
                "kd.smp is set but segmentation-models-pytorch is not installed "
                "(pip install segmentation-models-pytorch), or use kd.teacher with an ffseg model."
            ) from exc
        args = {"encoder_weights": None, "classes": num_classes, **smp}
        teacher = smp_lib.create_model(**args)
        if checkpoint is not None:
            from ffseg.models._weights import read_state_dict

            teacher.load_state_dict(read_state_dict(checkpoint), strict=True)
    else:
        if not name:
            raise ValueError("knowledge distillation needs kd.teacher (a registered model name)")
        if ":" in name:  # "package.module:callable", as model.name accepts
            import importlib

            from ffseg.models._weights import load_pretrained_weights

            module_name, _, attr = name.partition(":")
            factory = importlib.import_module(module_name)
            for part in attr.split("."):
                factory = getattr(factory, part)
            teacher = factory(num_classes=num_classes, **(kwargs or {}))
            if checkpoint is not None:
                load_pretrained_weights(teacher, checkpoint)
        else:
            from ffseg.models import create_model

            teacher = create_model(
                name, pretrained=checkpoint, num_classes=num_classes, **(kwargs or {})
            )
        if checkpoint is None:
            log.warning("KD teacher %s has no checkpoint: it is randomly initialised", name)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher
