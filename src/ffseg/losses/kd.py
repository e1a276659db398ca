"""Knowledge distillation: Hinton logits KD, feature KD through a 1x1 adapter, and a criterion
that adds them to the task loss.

The teacher is built by the caller (the engine builds it like the student); losses never build
models. Feature KD reads one intermediate feature of each network with a forward hook
(:class:`FeatureTap`) during the forward passes that run anyway, so it costs no extra pass.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.losses._utils import resize_logits
from ffseg.models import SegOutput

__all__ = [
    "DistillCriterion",
    "FeatureDistillLoss",
    "FeatureTap",
    "KDLoss",
    "feature_distillation",
    "feature_module_path",
]


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


def feature_module_path(model: nn.Module, level: int) -> str:
    """The dotted path (in ``model``) of the module producing encoder feature ``level`` (an
    index into the encoder's ``feature_info``; -1: the last level)."""
    encoder = model.feature_encoder() if hasattr(model, "feature_encoder") else None
    infos = getattr(encoder, "feature_info", None)
    if not infos:
        raise ValueError(
            f"kd.feature_level: {type(model).__name__} has no encoder feature_info; feature "
            "distillation needs an ffseg model (student and teacher)."
        )
    if not -len(infos) <= level < len(infos):
        raise ValueError(
            f"kd.feature_level={level} is out of range for {type(model).__name__}: its encoder "
            f"has {len(infos)} levels ({', '.join(f'{i.module}@1/{i.reduction}' for i in infos)})"
        )
    # an encoder built on the fly (sharing weights) has the model's module paths
    prefix = next((name for name, module in model.named_modules() if module is encoder), "")
    module = infos[level].module
    return ".".join(part for part in (prefix, module) if part)


def _first_map(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output if output.ndim == 4 else None
    if isinstance(output, (list, tuple)):
        return next((t for t in map(_first_map, output) if t is not None), None)
    return None


class FeatureTap:
    """A forward hook that keeps the latest feature map a submodule of ``model`` produced
    (the first 4-D tensor of its output); :meth:`take` returns and clears it."""

    def __init__(self, model: nn.Module, path: str) -> None:
        self.path = path
        self.value: torch.Tensor | None = None
        self.handle = model.get_submodule(path).register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, args: Any, output: Any) -> None:
        self.value = _first_map(output)

    def take(self) -> torch.Tensor:
        value, self.value = self.value, None
        if value is None:
            raise RuntimeError(
                f"feature distillation: module {self.path!r} produced no feature map in the "
                "last forward pass; choose another kd.feature_level"
            )
        return value

    def remove(self) -> None:
        self.handle.remove()


class FeatureDistillLoss(nn.Module):
    """``loss(adapter(student feature), teacher feature)``: a 1x1 conv + BN maps the student's
    channels to the teacher's; the adapted map is resized (bilinear) to the teacher's size when
    the strides differ. ``kind``: ``"mse"`` or ``"cosine"`` (1 - cosine similarity over
    channels, averaged over pixels). The adapter is trained with the student and is not part of
    the student's weights."""

    def __init__(
        self, student_channels: int, teacher_channels: int, kind: Literal["mse", "cosine"] = "mse"
    ) -> None:
        super().__init__()
        if kind not in ("mse", "cosine"):
            raise ValueError(f"kd.feature_loss must be mse or cosine; got {kind!r}")
        self.kind = kind
        self.adapter = nn.Sequential(
            nn.Conv2d(student_channels, teacher_channels, 1, bias=False),
            nn.BatchNorm2d(teacher_channels),
        )

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        adapted = self.adapter(student.float())
        teacher = teacher.float()
        if adapted.shape[-2:] != teacher.shape[-2:]:
            adapted = F.interpolate(
                adapted, size=teacher.shape[-2:], mode="bilinear", align_corners=False
            )
        if self.kind == "mse":
            return F.mse_loss(adapted, teacher)
        return (1 - F.cosine_similarity(adapted, teacher, dim=1)).mean()


@torch.no_grad()
def _probe(model: nn.Module, tap: FeatureTap, size: tuple[int, int], device: Any) -> torch.Tensor:
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, 3, *size, device=device))
    finally:
        model.train(was_training)
    return tap.take()


def feature_distillation(
    student: nn.Module,
    teacher: nn.Module,
    level: int,
    kind: Literal["mse", "cosine"],
    probe_size: tuple[int, int],
) -> tuple[FeatureDistillLoss, tuple[FeatureTap, FeatureTap]]:
    """The adapter loss and the two feature taps of feature KD at encoder ``level`` of both
    networks; one forward of each on a zero image of ``probe_size`` finds the channel counts."""
    device = next(student.parameters()).device
    taps = (
        FeatureTap(student, feature_module_path(student, level)),
        FeatureTap(teacher, feature_module_path(teacher, level)),
    )
    s_feat = _probe(student, taps[0], probe_size, device)
    t_feat = _probe(teacher, taps[1], probe_size, next(teacher.parameters()).device)
    return FeatureDistillLoss(s_feat.shape[1], t_feat.shape[1], kind), taps


class DistillCriterion(nn.Module):
    """``criterion(output, target) + weight * kd_loss(student logits, teacher(inputs), target)
    + feature_weight * feature_loss(student feature, teacher feature)``.

    ``teacher`` is frozen: it stays in eval mode and runs under ``no_grad``, in the autocast
    dtype the student is trained in (``autocast_dtype``; ``None``: fp32). Called as
    ``(output, target, inputs)`` like every ffseg criterion; the KD terms are reported as
    ``"kd"`` and ``"kd_feat"``. Feature KD reads the features through two :class:`FeatureTap`
    (``student_tap`` on the student's training forward, ``teacher_tap`` on the teacher);
    :attr:`feature` (the adapter) is the only trainable part.
    """

    def __init__(
        self,
        criterion: nn.Module,
        teacher: nn.Module,
        kd_loss: KDLoss,
        weight: float,
        autocast_dtype: torch.dtype | None = None,
        *,
        feature: FeatureDistillLoss | None = None,
        feature_weight: float = 0.0,
        taps: tuple[FeatureTap, FeatureTap] | None = None,
    ) -> None:
        super().__init__()
        if feature is not None and taps is None:
            raise ValueError("feature distillation needs (student_tap, teacher_tap)")
        self.criterion = criterion
        self.teacher = teacher.eval().requires_grad_(False)
        self.kd_loss = kd_loss
        self.weight = weight
        self.autocast_dtype = autocast_dtype
        self.feature = feature
        self.feature_weight = feature_weight
        self.taps = taps

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
        if self.weight > 0:
            student = output if isinstance(output, torch.Tensor) else output.logits
            kd = self.kd_loss(student, teacher_logits, target)
            terms["kd"] = kd.detach()
            loss = loss + self.weight * kd
        if self.feature is not None and self.taps is not None:
            student_tap, teacher_tap = self.taps
            feat = self.feature(student_tap.take(), teacher_tap.take())
            terms["kd_feat"] = feat.detach()
            loss = loss + self.feature_weight * feat
        return loss, terms
