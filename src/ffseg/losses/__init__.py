"""Segmentation losses and :func:`build_loss`, which assembles them from a recipe."""

from __future__ import annotations

from typing import Any, get_args

import torch
from torch import nn

from ffseg.config import LossName
from ffseg.losses.ce import CrossEntropyLoss, OhemCrossEntropyLoss
from ffseg.losses.detail import BoundaryLoss, DetailLoss, mask_edges
from ffseg.losses.dice import DiceLoss, binary_dice_loss
from ffseg.losses.kd import (
    DistillCriterion,
    FeatureDistillLoss,
    FeatureTap,
    KDLoss,
    feature_distillation,
)
from ffseg.losses.rmi import RMILoss
from ffseg.models import SegOutput

__all__ = [
    "BoundaryLoss",
    "CrossEntropyLoss",
    "DetailLoss",
    "DiceLoss",
    "DistillCriterion",
    "FeatureDistillLoss",
    "FeatureTap",
    "KDLoss",
    "OhemCrossEntropyLoss",
    "RMILoss",
    "SegCriterion",
    "binary_dice_loss",
    "build_loss",
    "feature_distillation",
    "mask_edges",
]

MAIN_LOSSES: tuple[str, ...] = get_args(LossName)


class SegCriterion(nn.Module):
    """Main loss + weighted extra terms on the main logits + per-head auxiliary losses.

    ``forward(output, target, inputs=None)`` takes a :class:`~ffseg.models.SegOutput` (or bare
    logits) and returns ``(total, terms)`` where ``terms`` maps names (``"ce"``, ``"rmi"``,
    ``"aux/<head>"``) to detached values. ``seg`` aux heads use the main loss, ``detail`` and
    ``boundary`` heads their binary edge losses; each is weighted by ``AuxOutput.weight``
    times ``aux_weight_scale``. ``inputs`` is unused here; it is part of the call every ffseg
    criterion shares because :class:`DistillCriterion` needs the images for its teacher.
    """

    def __init__(
        self,
        main: nn.Module,
        main_name: str,
        extras: dict[str, tuple[float, nn.Module]] | None = None,
        ignore_index: int = 255,
        aux_weight_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.main = main
        self.main_name = main_name
        self.extras = nn.ModuleDict({k: m for k, (_, m) in (extras or {}).items()})
        self.extra_weights = {k: w for k, (w, _) in (extras or {}).items()}
        self.aux_losses = nn.ModuleDict(
            {"detail": DetailLoss(ignore_index), "boundary": BoundaryLoss(ignore_index)}
        )
        self.aux_weight_scale = aux_weight_scale

    def forward(
        self,
        output: SegOutput | torch.Tensor,
        target: torch.Tensor,
        inputs: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if isinstance(output, torch.Tensor):
            output = SegOutput(logits=output)
        main = self.main(output.logits, target)
        terms = {self.main_name: main.detach()}
        total = main
        if output.logits.ndim == 4:
            for name, module in self.extras.items():
                value = module(output.logits, target)
                terms[name] = value.detach()
                total = total + self.extra_weights[name] * value
        for aux in output.aux:
            weight = aux.weight * self.aux_weight_scale
            if aux.kind == "seg":
                value = self.main(aux.logits, target)
            elif aux.kind in self.aux_losses:
                value = self.aux_losses[aux.kind](aux.logits, target)
            else:
                raise ValueError(
                    f"aux head {aux.name!r} has unknown kind {aux.kind!r} (seg, detail, boundary)"
                )
            terms[f"aux/{aux.name}"] = value.detach()
            total = total + weight * value
        return total, terms


def build_loss(cfg: Any, ignore_index: int = 255) -> SegCriterion:
    """Build the criterion from a :class:`ffseg.config.LossConfig`."""
    name = cfg.name.lower()
    if name == "ce":
        main: nn.Module = CrossEntropyLoss(ignore_index, cfg.class_weights, cfg.label_smoothing)
    elif name == "ohem":
        main = OhemCrossEntropyLoss(
            ignore_index, cfg.class_weights, cfg.ohem_thresh, cfg.ohem_min_kept
        )
    elif name == "dice":
        main = DiceLoss(ignore_index)
    else:
        raise ValueError(f"loss.name must be one of {', '.join(MAIN_LOSSES)}; got {cfg.name!r}")
    extras: dict[str, tuple[float, nn.Module]] = {}
    if cfg.rmi_weight:
        extras["rmi"] = (cfg.rmi_weight, RMILoss(ignore_index, cfg.rmi_radius, cfg.rmi_pool))
    if cfg.dice_weight and name != "dice":
        extras["dice"] = (cfg.dice_weight, DiceLoss(ignore_index))
    return SegCriterion(main, name, extras, ignore_index, cfg.aux_weight_scale)
