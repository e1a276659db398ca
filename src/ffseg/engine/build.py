"""Building what a run trains: the model, the distillation teacher, the criterion, and the
module the training step calls (``forward_train`` under DDP / ``torch.compile``).

The student and the teacher are built by the same :func:`build_model`: a registered name goes
through :func:`ffseg.models.load_model` (the one model loader), a ``"package.module:callable"``
(a custom model in a recipe) is imported and called with ``num_classes``. Only the user's own
recipe may name an arbitrary callable: a recipe read back from a checkpoint passes
:func:`check_names_from_disk` first (registered names and ffseg model classes only).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ffseg.config import Config, KDConfig
from ffseg.engine.checkpoint import BEST
from ffseg.engine.data import TrainData
from ffseg.engine.distributed import DistInfo
from ffseg.losses import DistillCriterion, KDLoss, build_loss, feature_distillation
from ffseg.models import (
    PretrainedCfg,
    SegOutput,
    load_backbone_weights,
    load_model,
    load_pretrained_weights,
    read_state_dict,
)
from ffseg.models._factory import is_library_model_spec
from ffseg.models._offline import check_stored_smp_name, is_hub_encoder
from ffseg.models._registry import name_of_build
from ffseg.models._smp import is_smp_name

__all__ = [
    "TrainForward",
    "build_criterion",
    "build_model",
    "build_student",
    "build_teacher",
    "check_names_from_disk",
    "place_model",
    "run_model_config",
    "training_module",
]

log = logging.getLogger(__name__)


def _import_callable(spec: str) -> Any:
    """``"package.module:callable"`` -> the callable."""
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"model name {spec!r}: cannot import {attr!r} from {module_name!r} ({exc}); use a "
            "registered model name (ffseg list) or 'package.module:callable'."
        ) from exc
    return obj


def check_names_from_disk(cfg: Config, source: str) -> None:
    """Refuse a recipe read from a file the user did not give (a checkpoint) whose
    ``model.name`` or ``kd.teacher`` is a ``module:callable`` outside ffseg's model classes:
    building it would run code named by the file."""
    for key, name in (("model.name", cfg.model.name), ("kd.teacher", cfg.kd.teacher)):
        if name and is_smp_name(name):
            check_stored_smp_name(name, f"{source}: {key}")
        if not name or ":" not in name or is_smp_name(name) or is_library_model_spec(name):
            continue
        raise ValueError(
            f"{source}: {key}={name!r} names a 'module:callable' that would run code, and a "
            "recipe stored in a checkpoint may only name registered models (ffseg list) or ffseg "
            "model classes. Nothing was run. Files of a run folder cannot vouch for code: start a "
            "new run from a recipe you wrote yourself and have read (ffseg train --config ...)."
        )
    smp = cfg.kd.smp or {}
    fetches = smp.get("encoder_weights") is not None or is_hub_encoder(
        str(smp.get("encoder_name", ""))
    )
    if fetches:
        raise ValueError(
            f"{source}: kd.smp={smp!r} would make smp fetch encoder weights or a hub encoder, "
            "and a recipe stored in a checkpoint may not reach the network. Nothing was fetched. "
            "Start a new run from a recipe you wrote yourself, with kd.smp.encoder_weights: null "
            "and a local kd.teacher_checkpoint."
        )


def build_model(
    name: str,
    num_classes: int,
    *,
    weights: str | Path | None = None,
    pretrained_backbone: str | Path | None = None,
    kwargs: dict[str, Any] | None = None,
) -> nn.Module:
    """A registered model, an ``"smp:<Arch>:<encoder>"`` or a ``"package.module:callable"``,
    optionally initialised from ``weights`` (a checkpoint file, or a ``save_pretrained`` folder
    for registered and smp names) and an encoder checkpoint ``pretrained_backbone``."""
    kwargs = dict(kwargs or {})
    if ":" not in name or is_smp_name(name):
        return load_model(
            weights,
            name=name,
            num_classes=num_classes,
            pretrained_backbone=pretrained_backbone,
            **kwargs,
        )
    model = _import_callable(name)(num_classes=num_classes, **kwargs)
    if weights is not None:
        load_pretrained_weights(model, weights)
    if pretrained_backbone is not None:
        load_backbone_weights(model, pretrained_backbone)
    return model


def build_student(cfg: Config, num_classes: int) -> nn.Module:
    """The model a recipe trains (``model.*``)."""
    m = cfg.model
    return build_model(
        m.name,
        num_classes,
        weights=m.pretrained,
        pretrained_backbone=m.pretrained_backbone,
        kwargs=m.kwargs,
    )


def _smp_model(args: dict[str, Any], num_classes: int, weights: str | None) -> nn.Module:
    try:
        import segmentation_models_pytorch as smp
    except ImportError as exc:
        raise RuntimeError(
            "kd.smp is set but segmentation-models-pytorch is not installed "
            "(pip install segmentation-models-pytorch), or use kd.teacher with an ffseg model."
        ) from exc
    model = smp.create_model(**{"encoder_weights": None, "classes": num_classes, **args})
    if weights is not None:
        model.load_state_dict(read_state_dict(weights), strict=True)
    return model


def build_teacher(kd: KDConfig, num_classes: int) -> nn.Module:
    """The frozen distillation teacher (eval mode, no gradients) of ``kd``."""
    if kd.smp is not None:
        teacher = _smp_model(kd.smp, num_classes, kd.teacher_checkpoint)
    else:
        teacher = build_model(
            str(kd.teacher), num_classes, weights=kd.teacher_checkpoint, kwargs=kd.teacher_kwargs
        )
    if kd.teacher_checkpoint is None:
        log.warning("KD teacher %s has no checkpoint: it is randomly initialised", kd.teacher)
    return teacher.eval().requires_grad_(False)


def build_criterion(
    cfg: Config,
    data: TrainData,
    device: torch.device,
    autocast_dtype: torch.dtype | None,
    student: nn.Module | None = None,
) -> nn.Module:
    """The recipe's loss, wrapped in a :class:`~ffseg.losses.DistillCriterion` when
    ``kd.weight > 0`` or ``kd.feature_weight > 0`` (the teacher then runs in the student's
    autocast dtype; feature KD hooks ``student``'s and the teacher's ``kd.feature_level``)."""
    criterion = build_loss(cfg.loss, data.ignore_index)
    kd = cfg.kd
    if kd.weight > 0 or kd.feature_weight > 0:
        teacher = build_teacher(kd, data.num_classes).to(device)
        feature, taps = None, None
        if kd.feature_weight > 0:
            if student is None:
                raise ValueError("kd.feature_weight > 0 needs the student model")
            size = tuple(cfg.data.crop_size)
            feature, taps = feature_distillation(
                student, teacher, kd.feature_level, kd.feature_loss, size
            )
        kd_loss = KDLoss(kd.temperature, data.ignore_index)
        criterion = DistillCriterion(
            criterion,
            teacher,
            kd_loss,
            kd.weight,
            autocast_dtype,
            feature=feature,
            feature_weight=kd.feature_weight,
            taps=taps,
        )
    return criterion.to(device)


def place_model(model: nn.Module, cfg: Config, dist_info: DistInfo) -> nn.Module:
    """SyncBatchNorm (``model.sync_bn`` on CUDA under DDP), device, memory format."""
    if cfg.model.sync_bn and dist_info.distributed:
        if dist_info.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        else:
            log.warning("model.sync_bn needs CUDA; using per-process BatchNorm on CPU")
    model.to(dist_info.device)
    if cfg.model.channels_last:
        model.to(memory_format=torch.channels_last)
    return model


class TrainForward(nn.Module):
    """``forward`` = the model's ``forward_train`` (so DDP and ``torch.compile`` wrap it).

    It has exactly the model's parameters and buffers, in the same order.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> SegOutput:
        if hasattr(self.model, "forward_train"):
            return self.model.forward_train(x)
        return SegOutput(logits=self.model(x))


def training_module(model: nn.Module, cfg: Config, dist_info: DistInfo) -> nn.Module:
    """What the training step calls: :class:`TrainForward`, under DDP and ``torch.compile``
    when the run uses them."""
    module: nn.Module = TrainForward(model)
    if dist_info.distributed:
        device = dist_info.device
        module = nn.parallel.DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.model.compile:
        module = torch.compile(module)
    return module


def _stored_size(dataset: Any) -> tuple[int, int] | None:
    """The stored size of the first validation image: where a whole-image evaluation without
    ``eval.resize`` ran the network (the run's native input size)."""
    if dataset is None or len(dataset) == 0:
        return None
    image = dataset[0][0]
    shape = getattr(image, "shape", None)
    if shape is not None and len(shape) == 3:
        return int(shape[-2]), int(shape[-1])
    size = getattr(image, "size", None)  # PIL: (W, H)
    return (int(size[1]), int(size[0])) if isinstance(size, tuple) else None


def run_model_config(model: nn.Module, cfg: Config, data: TrainData) -> dict[str, Any]:
    """The ``config.json`` of a run folder: the ``pretrained_cfg`` that rebuilds the trained
    model (architecture and build arguments, the dataset's classes and palette, mean/std and
    the input size) and the weights file, ``best.safetensors``."""
    base = getattr(model, "pretrained_cfg", None)
    base = base if isinstance(base, PretrainedCfg) else PretrainedCfg(architecture="custom")
    if ":" in cfg.model.name and not is_smp_name(cfg.model.name):
        args = {**cfg.model.kwargs, "num_classes": data.num_classes}
        arch = name_of_build(cfg.model.name, args)
    else:
        arch, args = base.architecture, dict(base.model_args)
    e, segmentation = cfg.eval, cfg.data.task == "segmentation"
    window = e.crop_size if e.mode == "slide" else e.resize
    stored = _stored_size(data.val) if segmentation and e.mode == "whole" else None
    size = (window if segmentation else None) or stored or cfg.data.crop_size
    n = data.num_classes
    pcfg = base.replace(
        architecture=arch,
        model_args=args,
        task=cfg.data.task,
        num_classes=n,
        dataset=cfg.data.name,
        classes=data.classes if len(data.classes) == n else None,
        palette=tuple(data.palette) if len(data.palette) == n else None,
        input_size=(3, int(size[0]), int(size[1])),
    )
    return {"ffseg_format": 2, "weights": BEST, "pretrained_cfg": pcfg.to_dict()}
