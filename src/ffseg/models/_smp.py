"""segmentation-models-pytorch networks as ffseg models: ``"smp:<Arch>:<encoder>"``.

``create_model("smp:Unet:resnet18", num_classes=11)`` builds smp's ``Unet`` with a ``resnet18``
encoder and wraps it as a :class:`SmpModel` (a :class:`~ffseg.models.SegModel`), so it trains,
distils, exports and predicts like any ffseg model. Its state_dict keys are smp's own
(``encoder.*``, ``decoder.*``, ``segmentation_head.*``), so a checkpoint of a plain smp model
loads as it is. Nothing is ever downloaded (``encoder_weights`` is always ``None``); pass a local
encoder file with ``pretrained_backbone=``.

An smp name is data, not code: it only selects one of smp's architectures and encoders, so it
is accepted from checkpoints and recipes. segmentation-models-pytorch is imported lazily (the
``smp`` extra); this module is underscored so the registry does not import it as a family.
"""

from __future__ import annotations

import difflib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ffseg.models._base import FeatureInfo, PretrainedCfg, SegModel

__all__ = [
    "SMP_PREFIX",
    "SmpFeatures",
    "SmpModel",
    "SmpNotInstalledError",
    "create_smp_model",
    "is_smp_name",
    "smp_architectures",
    "smp_encoders",
]

SMP_PREFIX = "smp:"
SMP_MODULE = "segmentation_models_pytorch"
#: smp's decoder arguments that would change what ``forward`` returns or download weights.
_REFUSED_ARGS = {
    "classes": "pass num_classes",
    "activation": "ffseg models return logits; apply softmax/sigmoid afterwards",
    "aux_params": "the classification head is not supported",
    "encoder_weights": "nothing is downloaded; pass a local file with pretrained_backbone=",
}


class SmpNotInstalledError(ImportError):
    """segmentation-models-pytorch (the ``smp`` extra) is not installed."""


def is_smp_name(name: object) -> bool:
    """Whether ``name`` is an ``"smp:<Arch>:<encoder>"`` model name (by its text only)."""
    return isinstance(name, str) and name[: len(SMP_PREFIX)].lower() == SMP_PREFIX


def _smp() -> Any:
    try:
        import segmentation_models_pytorch as smp
    except ImportError as exc:
        raise SmpNotInstalledError(
            "smp:... models need segmentation-models-pytorch, which is not installed: "
            "pip install 'ffseg[smp]'"
        ) from exc
    return smp


def smp_architectures() -> dict[str, type[nn.Module]]:
    """The installed smp's decoder classes by their class name (``"Unet"``, ``"FPN"``, ...)."""
    return {cls.__name__: cls for cls in _smp().MODEL_ARCHITECTURES_MAPPING.values()}


def smp_encoders() -> list[str]:
    """The installed smp's own encoder names (``"tu-<timm model>"`` names are accepted too)."""
    return sorted(_smp().encoders.get_encoder_names())


def _choices(asked: str, options: list[str]) -> str:
    close = difflib.get_close_matches(asked, options, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return f"{hint}choices: {', '.join(options)}"


def parse_smp_name(name: str) -> tuple[str, str]:
    """``"smp:unet:resnet18"`` -> ``("Unet", "resnet18")`` (architecture case-insensitive),
    checked against the installed smp; errors name the wrong part and list the choices."""
    parts = name.split(":", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise ValueError(
            f"model name {name!r}: an smp model is named 'smp:<Arch>:<encoder>', "
            "e.g. 'smp:Unet:resnet18'"
        )
    archs = smp_architectures()
    by_lower = {a.lower(): a for a in archs}
    arch = by_lower.get(parts[1].lower())
    if arch is None:
        raise ValueError(
            f"model name {name!r}: unknown smp architecture {parts[1]!r}; "
            + _choices(parts[1], sorted(archs))
        )
    encoder = parts[2]
    if not encoder.startswith("tu-"):
        encoders = smp_encoders()
        exact = {e.lower(): e for e in encoders}
        if encoder.lower() not in exact:
            raise ValueError(
                f"model name {name!r}: unknown smp encoder {encoder!r} (or 'tu-<timm model>'); "
                + _choices(encoder, encoders)
            )
        encoder = exact[encoder.lower()]
    return arch, encoder


class SmpFeatures(nn.Module):
    """An smp encoder as an ffseg feature encoder: its outputs at strides 2, 4, ... (smp's
    stride-1 input passthrough and empty levels are dropped), described by ``feature_info``."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        stride = int(getattr(encoder, "output_stride", 32))
        channels = list(encoder.out_channels)
        self.levels = [i for i in range(1, len(channels)) if channels[i] > 0]
        self.feature_info = [
            FeatureInfo(channels[i], min(2**i, stride), f"encoder.{i}") for i in self.levels
        ]
        self.out_channels = [f.num_chs for f in self.feature_info]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = self.encoder(x)
        return [features[i] for i in self.levels]


class SmpModel(SegModel):
    """One smp segmentation network (encoder -> decoder -> segmentation head) as a SegModel.

    Logits come at the input resolution (output stride 1). The input is zero-padded
    (bottom/right) to a multiple of the encoder's stride and the logits cropped back, so any
    image size works (smp itself refuses other sizes); the padding is computed from the input's
    shape, so ONNX with dynamic shapes and ``torch.jit.trace`` stay correct at every size.
    """

    encoder_attr = "encoder"
    classifier_path = "segmentation_head.0"

    def __init__(self, net: nn.Module, num_classes: int) -> None:
        super().__init__(num_classes)
        self.encoder = net.encoder
        self.decoder = net.decoder
        self.segmentation_head = net.segmentation_head
        self.size_divisor = (
            int(getattr(net.encoder, "output_stride", 32))
            if getattr(net, "requires_divisible_input_shape", True)
            else 1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, -w % self.size_divisor, 0, -h % self.size_divisor))
        return self.segmentation_head(self.decoder(self.encoder(x)))[..., :h, :w]

    def feature_encoder(self) -> nn.Module:
        """The smp encoder (sharing weights) with ``feature_info``."""
        return SmpFeatures(self.encoder)


def create_smp_model(name: str, num_classes: int | None = None, **kwargs: Any) -> SmpModel:
    """Build ``"smp:<Arch>:<encoder>"`` with randomly initialised weights (no download).

    ``kwargs`` go to the smp architecture's constructor (``decoder_channels``,
    ``encoder_depth``, ...); ``num_classes`` defaults to 19. With ``encoder_depth`` below 5,
    smp keeps the unused encoder stages: they get no gradients (DDP training then fails).
    """
    arch, encoder = parse_smp_name(name)
    for key, why in _REFUSED_ARGS.items():
        if key in kwargs and not (key == "encoder_weights" and kwargs[key] is None):
            raise ValueError(f"{name}: argument {key}={kwargs[key]!r} is not accepted ({why})")
    kwargs.pop("encoder_weights", None)
    n = 19 if num_classes is None else num_classes
    cls = smp_architectures()[arch]
    try:
        net = cls(encoder_name=encoder, encoder_weights=None, classes=n, **kwargs)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"smp cannot build {arch} with encoder {encoder!r}: {exc}") from exc
    model = SmpModel(net, n)
    model.pretrained_cfg = PretrainedCfg(
        architecture=f"{SMP_PREFIX}{arch}:{encoder}",
        num_classes=n,
        input_size=(3, 512, 1024),
        output_stride=1,
        dataset="",
        family="smp",
        license="segmentation-models-pytorch (MIT); random init, no weights bundled",
        paper="https://github.com/qubvel-org/segmentation_models.pytorch",
        min_input_size=(32, 32),
    )
    return model
