"""Every FFNet of the official release: names that say the architecture, and one table.

An FFNet name is its architecture (:func:`parse_ffnet_name`)::

    ffnet<depth><family>_<d?><stem><up-head><head>[_mobile][_pre_down]

``depth`` + ``family`` (none, ``s`` slim, ``n`` narrow, ``ns``) name the ResNet backbone
(``ffnet40s`` -> ``resnet40s``); ``d`` strides the first stage (output stride 8); the three
letters pick the stem (fixed by the family), the up-head ``A``/``B``/``C`` and the head
``A``/``B``/``C`` (segmentation) or ``X`` (ImageNet classification); ``_mobile`` upsamples with
nearest instead of bilinear; ``_pre_down`` smooths and subsamples the input by 2 first. The
official spellings (``segmentation_ffnet40S_BBB_mobile_pre_down``,
``classification_ffnet54S_BBX_mobile``, seven ``..._train`` examples) are aliases.

:data:`RELEASE` is the only per-variant data: which names were released and the numbers their
authors published (Cityscapes val mIoU and, for the GPU models, the authors' latency on an
NVIDIA RTX 2080 Ti at 1024x2048 in ms; their measurements, not ffseg's; the context of each
number is in ``published_context``). ``default_cfgs`` and the registered variants
are generated from it; the architecture is :class:`~ffseg.models.ffnet_arch.FFNet`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ffseg.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, imagenet_classes
from ffseg.models._base import PretrainedCfg
from ffseg.models._builder import build_model
from ffseg.models._registry import (
    ModelEntry,
    register_model,
    register_model_namer,
    register_name_resolver,
)
from ffseg.models.ffnet_arch import (
    FFNET_LICENSE,
    FFNET_PAPER,
    FFNet,
    FFNetEncoder,
    FFNetUpHead,
)
from ffseg.models.resnet import BACKBONES

__all__ = [
    "FFNET_LICENSE",
    "FFNET_PAPER",
    "RELEASE",
    "TRAIN_ALIASES",
    "FFNet",
    "FFNetEncoder",
    "FFNetSpec",
    "FFNetUpHead",
    "default_cfgs",
    "design_space",
    "ffnet_cfg",
    "parse_ffnet_name",
]

_FAMILIES = {"": "", "s": "S", "n": "N", "ns": "NS"}  # lowercase -> official spelling
_SUFFIXES = {  # -> (mobile, pre_downsample)
    "": (False, False),
    "_mobile": (True, False),
    "_pre_down": (False, True),
    "_mobile_pre_down": (True, True),
}
_GRAMMAR = (
    "FFNet names read ffnet<depth><S|N|NS?>_<d?><stem><up-head><head>[_mobile][_pre_down], "
    "e.g. ffnet40s_bbb_mobile or ffnet18_daac"
)


@dataclass(frozen=True)
class FFNetSpec:
    """The architecture an FFNet name stands for (see :func:`parse_ffnet_name`)."""

    depth: int
    family: str  # "", "s" (slim), "n" (narrow) or "ns"
    strided: bool  # "d": strided first stage
    stem: str
    up_head: str
    head: str  # A/B/C segmentation head, or X (classification)
    mobile: bool = False
    pre_downsample: bool = False

    @property
    def backbone(self) -> str:
        """The encoder's name in :data:`~ffseg.models.resnet.BACKBONES`."""
        return f"resnet{self.depth}{self.family}"

    @property
    def task(self) -> str:
        return "classification" if self.head == "X" else "segmentation"

    @property
    def _suffix(self) -> str:
        return "_mobile" * self.mobile + "_pre_down" * self.pre_downsample

    @property
    def name(self) -> str:
        """The canonical (registry) name, e.g. ``"ffnet40s_dbbb_mobile"``."""
        letters = f"{'d' * self.strided}{self.stem}{self.up_head}{self.head}".lower()
        return f"ffnet{self.depth}{self.family}_{letters}{self._suffix}"

    @property
    def official_name(self) -> str:
        """The official release's spelling, e.g. ``"segmentation_ffnet40S_dBBB_mobile"``."""
        return f"{self.task}_{self._short_official}{self._suffix}"

    @property
    def _short_official(self) -> str:
        letters = f"{'d' * self.strided}{self.stem}{self.up_head}{self.head}"
        return f"ffnet{self.depth}{_FAMILIES[self.family]}_{letters}"

    @property
    def official_weight_file(self) -> str:
        """The file name the official release gives this model's weights (if it released them).

        Mobile twins share a file; GPU models of the slim family carry ``_gpu`` to tell them
        apart from the mobile ones with the same letters.
        """
        folder = f"ffnet{self.depth}{_FAMILIES[self.family]}"
        gpu = "_gpu" if self.family == "s" and not self.mobile else ""
        dataset = "imagenet" if self.head == "X" else "cityscapes"
        return f"{folder}/{self._short_official}{gpu}_{dataset}_state_dict_quarts.pth"

    @property
    def num_classes(self) -> int:
        return 1000 if self.head == "X" else 19

    @property
    def output_stride(self) -> int | None:
        if self.head == "X":
            return None
        return 4 * (2 if self.strided else 1) * (2 if self.pre_downsample else 1)

    @property
    def input_size(self) -> tuple[int, int, int]:
        """Native input: 224x224 (ImageNet); 512x1024 for mobile models that do not reduce
        the input themselves (no ``d``, no ``_pre_down``); else Cityscapes' 1024x2048."""
        if self.head == "X":
            return (3, 224, 224)
        if self.mobile and not (self.strided or self.pre_downsample):
            return (3, 512, 1024)
        return (3, 1024, 2048)

    @property
    def dropout_rate(self) -> float | None:
        """The official classifiers of the 3-stage (stem C) nets use dropout 0.2."""
        return 0.2 if self.head == "X" and self.stem == "C" else None

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~ffseg.models.ffnet_arch.FFNet` for this architecture."""
        kwargs: dict[str, Any] = dict(
            backbone=self.backbone,
            up_head=self.up_head,
            seg_head=self.head,
            mobile=self.mobile,
            first_stage_stride=2 if self.strided else 1,
            pre_downsample=self.pre_downsample,
            num_classes=self.num_classes,
        )
        if self.dropout_rate is not None:
            kwargs["dropout_rate"] = self.dropout_rate
        return kwargs

    def describe(self) -> str:
        """One line, e.g. ``"Cityscapes segmentation (nearest upsampling, strided first stage)"``."""
        what = "ImageNet classifier" if self.head == "X" else "Cityscapes segmentation"
        notes = [
            note
            for note, on in (
                ("nearest upsampling", self.mobile),
                ("strided first stage", self.strided),
                ("Gaussian pre-downsampling", self.pre_downsample),
            )
            if on
        ]
        return f"{what} ({', '.join(notes)})" if notes else what


def _invalid(name: str, detail: str) -> ValueError:
    return ValueError(f"invalid FFNet name {name!r}: {detail}. {_GRAMMAR}.")


def parse_ffnet_name(name: str) -> FFNetSpec:
    """The architecture of an FFNet name (canonical or official spelling, any case).

    Accepts an optional ``segmentation_`` / ``classification_`` prefix (which must agree with
    the head letter) and ``_train`` suffix. Raises ``ValueError`` naming the invalid part.
    """
    key = name.lower()
    task = next((t for t in ("segmentation", "classification") if key.startswith(t + "_")), "")
    key = key[len(task) + 1 :] if task else key
    key = key.removesuffix("_train")
    if not key.startswith("ffnet"):
        raise _invalid(name, "it must start with 'ffnet' (after an optional task prefix)")
    net, _, rest = key[5:].partition("_")
    match = re.fullmatch(r"(\d+)([a-z]*)", net)
    if match is None:
        raise _invalid(name, f"{net!r} must be a depth and a family, e.g. '40s', '122ns', '150'")
    depth, family = int(match[1]), match[2]
    if family not in _FAMILIES:
        raise _invalid(name, f"family {family!r} in {net!r} must be none, 's', 'n' or 'ns'")
    backbone = f"resnet{depth}{family}"
    if backbone not in BACKBONES:
        depths = [
            b[6:].removesuffix(family) for b in BACKBONES if re.fullmatch(rf"resnet\d+{family}", b)
        ]
        raise _invalid(
            name,
            f"no backbone {backbone} (depth {depth}); family "
            f"{_FAMILIES[family] or 'ResNet'} has depths {', '.join(depths)}",
        )
    letters, sep, suffix = rest.partition("_")
    strided = len(letters) == 4 and letters.startswith("d")
    abc = letters[1:] if strided else letters
    if len(abc) != 3:
        raise _invalid(
            name, f"{letters!r} must be an optional 'd' and three letters (stem, up-head, head)"
        )
    stem, up_head, head = abc.upper()
    expected = BACKBONES[backbone].stem
    if stem != expected:
        raise _invalid(name, f"stem letter {stem} in {letters!r}: {backbone} has stem {expected}")
    if up_head not in "ABC":
        raise _invalid(name, f"up-head letter {up_head} in {letters!r} must be A, B or C")
    if head not in "ABCX":
        raise _invalid(name, f"head letter {head} in {letters!r} must be A, B, C or X")
    if strided and stem == "C":
        raise _invalid(
            name, f"'d' in {letters!r}: 3-stage (N/NS) backbones have no strided first stage"
        )
    flags = _SUFFIXES.get(sep + suffix)
    if flags is None:
        raise _invalid(name, f"suffix {sep + suffix!r} must be [_mobile][_pre_down]")
    if task and task != ("classification" if head == "X" else "segmentation"):
        raise _invalid(name, f"prefix {task}_ does not match head letter {head}")
    return FFNetSpec(depth, family, strided, stem, up_head, head, *flags)


def ffnet_cfg(
    spec: FFNetSpec, published: dict[str, float] | None = None, weight_file: str | None = None
) -> PretrainedCfg:
    """The default cfg of the FFNet ``spec`` (published numbers and weights: released ones)."""
    classification = spec.head == "X"
    return PretrainedCfg(
        architecture=spec.name,
        task=spec.task,
        num_classes=spec.num_classes,
        input_size=spec.input_size,
        output_stride=spec.output_stride,
        dataset="imagenet" if classification else "cityscapes",
        classes=imagenet_classes() if classification else CITYSCAPES_CLASSES,
        palette=None if classification else CITYSCAPES_PALETTE,
        published=dict(published or {}),
        published_context={k: _CONTEXT[k] for k in published or {}},
        weight_file=weight_file,
        license=FFNET_LICENSE,
        paper=FFNET_PAPER,
        family="ffnet",
        min_input_size=(64, 64),
    )


#: Where the release's numbers come from and how they were measured (the authors', not ours).
_CONTEXT = {
    "cityscapes_val_miou": "Cityscapes val, full 1024x2048 labels, single scale (mobile models "
    "take their native input); official FFNet release README and paper",
    "gpu_fp32_ms": "1024x2048, batch 1, fp32, mean over 200 runs on an NVIDIA RTX 2080 Ti; "
    "official FFNet release README and paper",
    "gpu_fp16_ms": "1024x2048, batch 1, fp16, mean over 200 runs on an NVIDIA RTX 2080 Ti; "
    "official FFNet release README and paper",
}


def _miou(miou: float) -> dict[str, float]:
    return {"cityscapes_val_miou": miou}


def _gpu(miou: float, fp32_ms: int, fp16_ms: int) -> dict[str, float]:
    return {"cityscapes_val_miou": miou, "gpu_fp32_ms": fp32_ms, "gpu_fp16_ms": fp16_ms}


#: The official release in its README's order: official name (the task prefix follows from the
#: head letter) -> the numbers its authors published.
RELEASE: dict[str, dict[str, float]] = {
    # mobile models (nearest upsampling); a _pre_down model and its plain twin share weights
    "ffnet86S_dBBB_mobile": _miou(81.5),
    "ffnet78S_dBBB_mobile": _miou(81.3),
    "ffnet54S_dBBB_mobile": _miou(80.8),
    "ffnet40S_dBBB_mobile": _miou(79.2),
    "ffnet150S_BBB_mobile_pre_down": _miou(81.6),
    "ffnet86S_BBB_mobile_pre_down": _miou(80.9),
    "ffnet78S_BBB_mobile_pre_down": _miou(80.5),
    "ffnet54S_BBB_mobile_pre_down": _miou(80.2),
    "ffnet40S_BBB_mobile_pre_down": _miou(79.7),
    "ffnet150S_BCC_mobile_pre_down": _miou(81.0),
    "ffnet86S_BCC_mobile_pre_down": _miou(81.0),
    "ffnet78S_BCC_mobile_pre_down": _miou(80.6),
    "ffnet54S_BCC_mobile_pre_down": _miou(79.9),
    "ffnet40S_BCC_mobile_pre_down": _miou(78.4),
    "ffnet150S_BBB_mobile": _miou(81.6),
    "ffnet86S_BBB_mobile": _miou(80.9),
    "ffnet78S_BBB_mobile": _miou(80.5),
    "ffnet54S_BBB_mobile": _miou(80.2),
    "ffnet40S_BBB_mobile": _miou(79.7),
    "ffnet150S_BCC_mobile": _miou(81.0),
    "ffnet86S_BCC_mobile": _miou(81.0),
    "ffnet78S_BCC_mobile": _miou(80.6),
    "ffnet54S_BCC_mobile": _miou(79.9),
    "ffnet40S_BCC_mobile": _miou(78.4),
    # ImageNet backbones of the mobile models (no published numbers)
    "ffnet150S_BBX_mobile": {},
    "ffnet86S_BBX_mobile": {},
    "ffnet78S_BBX_mobile": {},
    "ffnet54S_BBX_mobile": {},
    "ffnet40S_BBX_mobile": {},
    # narrow-and-slim (NS) mobile models
    "ffnet122NS_CBB_mobile_pre_down": _miou(79.3),
    "ffnet74NS_CBB_mobile_pre_down": _miou(78.3),
    "ffnet46NS_CBB_mobile_pre_down": _miou(77.5),
    "ffnet122NS_CCC_mobile_pre_down": _miou(79.2),
    "ffnet74NS_CCC_mobile_pre_down": _miou(77.8),
    "ffnet46NS_CCC_mobile_pre_down": _miou(76.7),
    "ffnet122NS_CBB_mobile": _miou(79.3),
    "ffnet74NS_CBB_mobile": _miou(78.3),
    "ffnet46NS_CBB_mobile": _miou(77.5),
    "ffnet122NS_CCC_mobile": _miou(79.2),
    "ffnet74NS_CCC_mobile": _miou(77.8),
    "ffnet46NS_CCC_mobile": _miou(76.7),
    "ffnet122NS_CBX_mobile": {},
    "ffnet74NS_CBX_mobile": {},
    "ffnet46NS_CBX_mobile": {},
    # GPU models: mIoU, GPU ms fp32, GPU ms fp16 (at 1024x2048)
    "ffnet150_AAA": _gpu(84.4, 152, 81),
    "ffnet134_AAA": _gpu(84.1, 135, 70),
    "ffnet101_AAA": _gpu(82.1, 119, 59),
    "ffnet86_AAA": _gpu(83.2, 105, 55),
    "ffnet56_AAA": _gpu(82.5, 82, 42),
    "ffnet50_AAA": _gpu(79.6, 88, 45),
    "ffnet34_AAA": _gpu(81.4, 67, 34),
    "ffnet150_ABB": _gpu(83.7, 125, 71),
    "ffnet86_ABB": _gpu(83.5, 78, 45),
    "ffnet56_ABB": _gpu(82.1, 56, 32),
    "ffnet34_ABB": _gpu(80.3, 41, 25),
    "ffnet150S_BBB": _gpu(84.1, 104, 66),
    "ffnet86S_BBB": _gpu(82.6, 67, 43),
    "ffnet122N_CBB": _gpu(83.7, 58, 44),
    "ffnet74N_CBB": _gpu(83.0, 42, 32),
    "ffnet46N_CBB": _gpu(81.9, 34, 27),
    # ImageNet backbones of the GPU models
    "ffnet122N_CBX": {},
    "ffnet74N_CBX": {},
    "ffnet46N_CBX": {},
    # GPU-small models (strided first stage)
    "ffnet150_dAAA": _gpu(82.3, 41, 37),
    "ffnet134_dAAA": _gpu(82.0, 38, 35),
    "ffnet101_dAAA": _gpu(80.4, 36, 29),
    "ffnet86_dAAA": _gpu(81.4, 30, 28),
    "ffnet56_dAAA": _gpu(80.7, 25, 22),
    "ffnet50_dAAA": _gpu(79.4, 27, 20),
    "ffnet34_dAAA": _gpu(79.1, 21, 18),
    "ffnet18_dAAA": _gpu(76.5, 19, 14),
    "ffnet150_dAAC": _gpu(81.9, 37, 33),
    "ffnet86_dAAC": _gpu(81.1, 26, 26),
    "ffnet34_dAAC": _gpu(79.1, 17, 16),
    "ffnet18_dAAC": _gpu(76.4, 15, 12),
    "ffnet150_AAX": {},
    "ffnet134_AAX": {},
    "ffnet101_AAX": {},
    "ffnet86_AAX": {},
    "ffnet56_AAX": {},
    "ffnet50_AAX": {},
    "ffnet34_AAX": {},
    "ffnet18_AAX": {},
    "ffnet150S_dBBB": _gpu(81.0, 31, 34),
    "ffnet86S_dBBB": _gpu(81.1, 23, 26),
    "ffnet150S_BBX": {},
    "ffnet86S_BBX": {},
}

#: Official ``..._train`` names: the same architecture; only the official recipe loading the
#: weights differs (an ImageNet backbone, non-strict), so they are aliases of their twin.
TRAIN_ALIASES = frozenset(
    {
        "ffnet78S_BCC_mobile_pre_down",
        "ffnet122NS_CBB_mobile_pre_down",
        "ffnet150_AAA",
        "ffnet86S_BBB",
        "ffnet122N_CBB",
        "ffnet150_dAAC",
        "ffnet86S_dBBB",
    }
)

_SPECS = {official: parse_ffnet_name(official) for official in RELEASE}
default_cfgs = {
    spec.name: ffnet_cfg(spec, RELEASE[official], spec.official_weight_file)
    for official, spec in _SPECS.items()
}


def _create_ffnet(variant: str, **kwargs: Any) -> FFNet:
    return build_model(FFNet, variant, **{**parse_ffnet_name(variant).model_kwargs(), **kwargs})


def _register(official: str, spec: FFNetSpec) -> None:
    def variant(**kwargs: Any) -> FFNet:
        return _create_ffnet(spec.name, **kwargs)

    variant.__name__ = variant.__qualname__ = spec.name
    variant.__doc__ = f"FFNet {official.removeprefix('ffnet')}: {spec.describe()}."
    aliases = [spec.official_name] + [f"{spec.official_name}_train"] * (official in TRAIN_ALIASES)
    globals()[spec.name] = register_model(variant, aliases=aliases)


for _official, _spec in _SPECS.items():
    _register(_official, _spec)
del _official, _spec


@register_name_resolver
def _design_space_entry(name: str) -> ModelEntry | None:
    """Any grammatical FFNet name, registered or not (e.g. ``ffnet30s_dbcb_mobile``)."""
    bare = re.sub(r"^(segmentation|classification)_", "", name.lower())
    if not bare.startswith("ffnet"):
        return None
    spec = parse_ffnet_name(name)  # raises ValueError naming the invalid part

    def variant(**kwargs: Any) -> FFNet:
        return _create_ffnet(spec.name, **kwargs)

    variant.__name__ = variant.__qualname__ = spec.name
    variant.__doc__ = f"FFNet design-space point {spec.name}: {spec.describe()}."
    return ModelEntry(spec.name, variant, "ffnet", (), ffnet_cfg(spec))


_CLASS_SPECS = ("ffseg.models.ffnet:ffnet", "ffseg.models.ffnet_arch:ffnet")
_NAMED_ARGS = ("backbone", "up_head", "seg_head", "mobile", "first_stage_stride", "pre_downsample")


@register_model_namer
def _ffnet_build_name(name: str, kwargs: Mapping[str, Any]) -> str | None:
    """The design-space name of an FFNet name or the ``FFNet`` class built with ``kwargs``."""
    key = name.lower()
    if key in _CLASS_SPECS:
        params = inspect.signature(FFNet).parameters
        args: dict[str, Any] = {k: params[k].default for k in _NAMED_ARGS}
    elif re.sub(r"^(segmentation|classification)_", "", key).startswith("ffnet"):
        try:
            args = parse_ffnet_name(name).model_kwargs()
        except ValueError:
            return None
    else:
        return None
    args.update({k: v for k, v in kwargs.items() if k in (*_NAMED_ARGS, "stem")})
    backbone = args["backbone"]
    match = re.fullmatch(r"resnet(\d+)([a-z]*)", backbone) if isinstance(backbone, str) else None
    if match is None or backbone not in BACKBONES or match[2] not in _FAMILIES:
        return None
    stem = BACKBONES[backbone].stem
    if (args.get("stem") or stem).upper() != stem or args["first_stage_stride"] not in (1, 2):
        return None
    spec = FFNetSpec(
        int(match[1]),
        match[2],
        args["first_stage_stride"] == 2,
        stem,
        str(args["up_head"]).upper(),
        str(args["seg_head"]).upper(),
        bool(args["mobile"]),
        bool(args["pre_downsample"]),
    )
    try:
        return parse_ffnet_name(spec.name).name
    except ValueError:
        return None


def design_space(task: str = "segmentation") -> list[FFNetSpec]:
    """Every point of the FFNet design space for ``task`` ("segmentation", "classification").

    A point is a backbone (depth and family of :data:`~ffseg.models.resnet.BACKBONES`), an
    optional strided first stage (not for 3-stage backbones), the up-head and head letters and
    the ``_mobile`` / ``_pre_down`` options; each has a name :func:`create_model` accepts.
    """
    if task not in ("segmentation", "classification"):
        raise ValueError(f"task {task!r}: use 'segmentation' or 'classification'")
    heads = "ABC" if task == "segmentation" else "X"
    points = []
    for backbone, arch in BACKBONES.items():
        match = re.fullmatch(r"resnet(\d+)([a-z]*)", backbone)
        if match is None or match[2] not in _FAMILIES:
            continue
        for strided in (False, True) if arch.stem != "C" else (False,):
            for up_head in "ABC":
                for head in heads:
                    for mobile, pre_down in _SUFFIXES.values():
                        points.append(
                            FFNetSpec(
                                int(match[1]),
                                match[2],
                                strided,
                                arch.stem,
                                up_head,
                                head,
                                mobile,
                                pre_down,
                            )
                        )
    return points
