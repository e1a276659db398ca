"""Shared model types: the metadata every model carries, the training-time output, and
:class:`SegModel`, the base class of every ffseg network."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

import torch
from torch import nn

from ffseg.classes import IMAGENET_MEAN, IMAGENET_STD
from ffseg.layers.classifier import fresh_classifier

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AuxOutput",
    "FeatureInfo",
    "PretrainedCfg",
    "SegModel",
    "SegOutput",
    "scoring_outputs",
]


@dataclass(frozen=True)
class PretrainedCfg(Mapping[str, Any]):
    """What a model expects and what is known about it (the timm-style ``pretrained_cfg``).

    Read it by attribute (``cfg.mean``) or like timm's dict (``cfg["mean"]``, ``cfg.get(...)``,
    ``dict(cfg)``, ``cfg.keys()``); it is immutable (use :meth:`replace`).

    ``input_size`` is ``(C, H, W)`` at the model's native resolution; ``output_stride`` is the
    ratio between input and logits size (``None`` for classifiers). ``published`` holds numbers
    reported by the model's authors (e.g. ``{"cityscapes_val_miou": 79.7}``), never ours; the
    key names the dataset and split. ``published_context`` says, per key, at which evaluation
    resolution and where it was reported (``"1024x2048, single scale; paper Table 4"``).
    """

    architecture: str
    task: str = "segmentation"
    num_classes: int = 19
    input_size: tuple[int, int, int] = (3, 1024, 2048)
    output_stride: int | None = 4
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    dataset: str = "cityscapes"
    classes: tuple[str, ...] | None = None
    published: dict[str, float] = field(default_factory=dict)
    published_context: dict[str, str] = field(default_factory=dict)
    weight_file: str | None = None
    license: str = ""
    paper: str = ""
    family: str = ""
    palette: tuple[tuple[int, int, int], ...] | None = None
    min_input_size: tuple[int, int] = (32, 32)
    crop_pct: float = 0.875  # classification eval: resize to size / crop_pct, centre-crop size
    model_args: dict[str, Any] = field(default_factory=dict)  # what rebuilds this exact model

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str) or key not in self._field_names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._field_names())

    def __len__(self) -> int:
        return len(self._field_names())

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> PretrainedCfg:
        """A copy with some fields changed."""
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainedCfg:
        """Rebuild from :meth:`to_dict` output (JSON lists become tuples; unknown keys ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        tuples = {"input_size", "mean", "std", "classes", "min_input_size"}
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            if key in tuples and value is not None:
                value = tuple(value)
            elif key == "palette" and value is not None:
                value = tuple(tuple(int(v) for v in c) for c in value)
            out[key] = value
        return cls(**out)


@dataclass
class AuxOutput:
    """One auxiliary training output: logits of an extra head and how the loss should treat them.

    ``kind`` is ``"seg"`` (cross-entropy against the mask) or ``"detail"`` / ``"boundary"``
    (binary targets derived from the mask by the loss).
    """

    name: str
    logits: torch.Tensor
    weight: float = 0.4
    kind: str = "seg"


@dataclass
class SegOutput:
    """What ``forward_train`` returns: main logits plus auxiliary heads (possibly none)."""

    logits: torch.Tensor
    aux: list[AuxOutput] = field(default_factory=list)


@dataclass(frozen=True)
class FeatureInfo:
    """Channels and reduction (stride w.r.t. the input) of one encoder output level."""

    num_chs: int
    reduction: int
    module: str = ""


class SegModel(nn.Module):
    """Base class of every ffseg model (segmentation or classification).

    A subclass calls ``super().__init__(num_classes)`` first, builds its modules, and states
    where its parts live as class attributes:

    * ``encoder_attr``: the attribute holding the encoder (returned by :meth:`feature_encoder`,
      and whose state_dict prefix ``pretrained_backbone=`` loads);
    * ``classifier_path``: the dotted path of the final layer that maps features to classes
      (re-initialised by :meth:`reset_classifier` and when a checkpoint's class count differs);
    * auxiliary training heads, if any, live in one ``nn.ModuleDict`` named ``aux_heads``;
    * capability flags read by export, quantization and the tests;
    * optionally a static method ``checkpoint_filter(state, model) -> state`` that fits a
      checkpoint to the model before loading (e.g. FFNet's fixed ``smoothing.weight``).

    ``forward(x)`` returns one tensor (logits at ``1/output_stride``); :meth:`forward_train`
    returns a :class:`SegOutput` with the auxiliary outputs the loss uses.
    """

    encoder_attr: ClassVar[str] = "encoder"
    classifier_path: ClassVar[str] = "head.cls"
    #: ONNX export with dynamic height/width gives correct results.
    supports_dynamic_shapes: ClassVar[bool] = True
    #: ``torch.jit.trace`` gives correct results at other input sizes.
    supports_torchscript: ClassVar[bool] = True
    #: ONNX Runtime INT8 post-training quantization is meaningful for this model.
    supports_int8: ClassVar[bool] = True
    #: The output depends on argmax choices (max-unpooling at pooling indices): a rounding
    #: difference between backends can flip a near-tie and move a value to another pixel, so
    #: ONNX export verification draws its random inputs free of such near-ties
    #: (``ffseg.deploy.ties``).
    argmax_switches: ClassVar[bool] = False
    #: Input height and width must be multiples of this (downsampling stages that cannot round
    #: an odd size); inference pads other sizes and crops the output back (1: any size).
    size_divisor: ClassVar[int] = 1

    pretrained_cfg: PretrainedCfg

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        self.num_classes = num_classes

    @property
    def encoder_prefix(self) -> str:
        """State-dict prefix of the encoder's weights (e.g. ``"encoder."``)."""
        return f"{self.encoder_attr}."

    def forward_train(self, x: torch.Tensor) -> SegOutput:
        """Training outputs; models without auxiliary heads return just the logits."""
        return SegOutput(self(x))

    def feature_encoder(self) -> nn.Module:
        """The encoder (sharing this model's weights) for ``features_only``."""
        return getattr(self, self.encoder_attr)

    def get_classifier(self) -> nn.Module:
        """The final layer mapping features to class scores."""
        return self.get_submodule(self.classifier_path)

    def class_layer_paths(self) -> list[str]:
        """Module paths of every layer whose outputs are class scores.

        The classifier plus the last such layer of each auxiliary head. :meth:`reset_classifier`
        re-creates them, and a checkpoint with another class count skips their weights. A
        family whose class count reaches further (a BN or an upsampling after the classifier)
        overrides this.
        """
        paths = [self.classifier_path]
        aux = getattr(self, "aux_heads", None)
        if isinstance(aux, nn.ModuleDict):
            for name, head in aux.items():
                last = _last_scoring_layer(head, self.num_classes)
                if last is not None:
                    paths.append(f"aux_heads.{name}.{last}" if last else f"aux_heads.{name}")
        return paths

    def reset_classifier(self, num_classes: int) -> None:
        """Re-create every class-scoring layer (:meth:`class_layer_paths`) for ``num_classes``."""
        for path in self.class_layer_paths():
            old = self.get_submodule(path)
            if isinstance(old, nn.BatchNorm2d):
                new = nn.BatchNorm2d(num_classes).to(old.weight.device, old.weight.dtype)
            else:
                new = fresh_classifier(old, num_classes)
            self.set_submodule(path, new.train(old.training))  # an eval model stays in eval
        self.num_classes = num_classes
        cfg = getattr(self, "pretrained_cfg", None)
        if cfg is not None:
            same = cfg.num_classes == num_classes
            self.pretrained_cfg = cfg.replace(
                num_classes=num_classes,
                classes=cfg.classes if same else None,
                palette=cfg.palette if same else None,
            )


def scoring_outputs(layer: nn.Module) -> int | None:
    """How many class scores a Conv2d / ConvTranspose2d / Linear layer outputs (else None)."""
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        return int(layer.out_channels)
    if isinstance(layer, nn.Linear):
        return int(layer.out_features)
    return None


def _last_scoring_layer(head: nn.Module, num_classes: int) -> str | None:
    found = None
    for name, module in head.named_modules():
        if scoring_outputs(module) == num_classes:
            found = name
    return found
