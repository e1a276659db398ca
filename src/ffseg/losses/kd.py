"""Knowledge distillation: Hinton logits KD, and a criterion that adds it to the task loss.

The teacher is built by the caller (the engine builds it like the student); losses never build
models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.losses._utils import resize_logits
from ffseg.models import SegOutput

__all__ = ["DistillCriterion", "KDLoss"]


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


class DistillCriterion(nn.Module):
    """``criterion(output, target) + weight * kd_loss(student logits, teacher(inputs), target)``.

    ``teacher`` is frozen: it stays in eval mode and runs under ``no_grad``, in the autocast
    dtype the student is trained in (``autocast_dtype``; ``None``: fp32). Called as
    ``(output, target, inputs)`` like every ffseg criterion; the KD term is reported as ``"kd"``.
    """

    def __init__(
        self,
        criterion: nn.Module,
        teacher: nn.Module,
        kd_loss: KDLoss,
        weight: float,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.criterion = criterion
        self.teacher = teacher.eval().requires_grad_(False)
        self.kd_loss = kd_loss
        self.weight = weight
        self.autocast_dtype = autocast_dtype

    def train(self, mode: bool = True) -> DistillCriterion:
        super().train(mode)
        self.teacher.eval()  # BatchNorm statistics of the teacher never change
        return self

    def forward(
        self, output: SegOutput | torch.Tensor, target: torch.Tensor, inputs: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        dtype = self.autocast_dtype
        with torch.no_grad(), torch.autocast(inputs.device.type, dtype, dtype is not None):
            teacher_logits = self.teacher(inputs)
        loss, terms = self.criterion(output, target, inputs)
        student = output if isinstance(output, torch.Tensor) else output.logits
        kd = self.kd_loss(student, teacher_logits, target)
        terms["kd"] = kd.detach()
        return loss + self.weight * kd, terms
