"""Typed training configuration: dataclass sections, YAML recipes, dotted overrides.

A recipe is a YAML file whose top-level keys are the sections of :class:`Config` (``data``,
``model``, ``loss``, ``optim``, ``sched``, ``train``, ``kd``, ``eval``, ``log``) plus an optional
``base: other.yaml`` (one level only, relative to the recipe) that the recipe overrides key by
key. ``--set a.b=value`` overrides convert ``value`` to the field's type. Unknown keys fail with
the closest valid key. The defaults of :class:`Config` are the demo recipe (``configs/demo.yaml``),
so ``ffseg demo`` works without any file.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "KDConfig",
    "LogConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "SchedConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "save_config",
]


class ConfigError(ValueError):
    """A recipe or override is invalid (unknown key, wrong type, bad value)."""


@dataclass
class DataConfig:
    """Dataset, augmentation and loader settings."""

    name: str = "synthetic"  # cityscapes | camvid | folder | imagenet | synthetic
    root: str | None = None
    task: str = "segmentation"  # segmentation | classification
    train_split: str = "train"
    val_split: str = "val"
    train_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"n": 96, "size": [96, 128], "seed": 0}
    )
    val_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"n": 16, "size": [96, 128], "seed": 1}
    )
    crop_size: tuple[int, int] = (96, 128)
    scale_range: tuple[float, float] = (0.75, 1.25)
    hflip: bool = True
    color_jitter: float | None = None
    batch_size: int = 8  # per process
    workers: int = 0
    extra_train: list[dict[str, Any]] = field(default_factory=list)  # [{split, kwargs}] added
    subset: int | None = None  # use only the first N training images
    val_subset: int | None = None


@dataclass
class ModelConfig:
    """Which network to train and how to initialise it."""

    name: str = "ffseg.models.ffnet:FFNet"  # a registered name, or "package.module:callable"
    num_classes: int | None = None  # default: the dataset's
    pretrained: str | None = None  # full checkpoint (head re-initialised if classes differ)
    pretrained_backbone: str | None = None  # encoder-only init, e.g. an ImageNet X checkpoint
    kwargs: dict[str, Any] = field(
        default_factory=lambda: {
            "backbone": "resnet22s",
            "up_head": "B",
            "seg_head": "B",
            "mobile": True,
            "first_stage_stride": 2,
            "init": "kaiming",
        }
    )
    sync_bn: bool = False
    channels_last: bool = False
    compile: bool = False


@dataclass
class LossConfig:
    """Main loss plus optional extra terms (weights 0 disable them)."""

    name: str = "ce"  # ce | ohem | dice
    class_weights: list[float] | None = None
    label_smoothing: float = 0.0
    ohem_thresh: float = 0.7
    ohem_min_kept: int = 100_000
    rmi_weight: float = 0.0  # RMI added to the main loss (always fp32)
    rmi_radius: int = 3
    rmi_pool: int = 4
    dice_weight: float = 0.0
    aux_weight_scale: float = 1.0  # multiplies every AuxOutput.weight


@dataclass
class OptimConfig:
    """Optimizer (per-parameter-group weight decay, optional backbone LR multiplier)."""

    name: str = "adamw"  # sgd | adamw | rmsprop
    lr: float = 3e-3
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    alpha: float = 0.99  # RMSprop smoothing
    weight_decay: float = 1e-4
    norm_bias_decay: bool = False  # apply weight decay to norm weights and biases too
    backbone_lr_mult: float = 1.0
    grad_clip: float | None = 5.0  # max global grad norm; null disables


@dataclass
class SchedConfig:
    """Learning-rate schedule, stepped every iteration."""

    name: str = "poly"  # poly | cosine | constant
    power: float = 0.9
    warmup_iters: int = 10
    warmup_factor: float = 0.1  # LR multiplier at iteration 0 of the linear warm-up
    min_lr_ratio: float = 0.0  # floor, as a fraction of the base LR


@dataclass
class TrainConfig:
    """Loop length, precision, device, EMA, checkpointing and run folder."""

    epochs: int = 6
    iters: int | None = None  # total iterations; overrides epochs when set
    max_minutes: float | None = None  # stop (evaluate, checkpoint) after this wall-clock time
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "none"  # none | bf16 | fp16 | auto
    ema: bool = False
    ema_decay: float = 0.999
    ema_warmup: int = 100  # decay ramps up as 1 - exp(-n / ema_warmup)
    eval_every: int = 3  # epochs; the last epoch is always evaluated
    ckpt_every: int = 0  # also write last.pt every N iterations (0: at epoch ends only)
    output_dir: str = "runs"
    name: str = "demo"
    deterministic: bool = False


@dataclass
class KDConfig:
    """Hinton knowledge distillation from a frozen teacher (weight 0 disables it)."""

    teacher: str | None = None  # registered model name
    teacher_checkpoint: str | None = None
    teacher_kwargs: dict[str, Any] = field(default_factory=dict)
    smp: dict[str, Any] | None = None  # segmentation_models_pytorch.create_model(**smp)
    temperature: float = 4.0
    weight: float = 0.0


@dataclass
class EvalConfig:
    """Validation settings (passed to :func:`ffseg.engine.evaluate.evaluate`)."""

    mode: str = "whole"  # whole | slide
    crop_size: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    resize: tuple[int, int] | None = None
    batch_size: int = 4


@dataclass
class LogConfig:
    """Progress bars, TensorBoard, logging frequency and prediction overlays."""

    progress: bool = True
    tensorboard: bool = True
    log_every: int = 10  # iterations between TensorBoard points
    overlays: int = 4  # prediction overlays written after training (0: none)


@dataclass
class Config:
    """A complete recipe."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sched: SchedConfig = field(default_factory=SchedConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    kd: KDConfig = field(default_factory=KDConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    log: LogConfig = field(default_factory=LogConfig)


# --------------------------------------------------------------------------- type conversion

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _convert(value: Any, hint: Any, where: str) -> Any:
    """Convert ``value`` (from YAML or a ``--set`` string) to the type ``hint``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        is_null = value is None or (
            isinstance(value, str) and value.lower() in ("none", "null", "~")
        )
        if is_null and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: cannot convert {value!r}")
    if hint is Any:
        return _parse_scalar(value) if isinstance(value, str) else value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = _parse_scalar(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} values, got {list(value)!r}")
            return tuple(
                _convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args))
            )
        item = args[0] if args else Any
        out = [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict or hint is dict:
        if isinstance(value, str):
            value = _parse_scalar(value)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                try:
                    as_float = float(value)
                except ValueError:
                    as_float = None
                if as_float is not None and as_float.is_integer():
                    return int(as_float)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported type {hint!r}")


def _parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {text!r}: {exc}") from exc


# --------------------------------------------------------------------------- building


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown(key: str, valid: Iterable[str], where: str) -> ConfigError:
    valid = list(valid)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.0)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown key {key!r} in {where}.{hint} Valid keys: {', '.join(valid)}.")


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    hints = _hints(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            raise _unknown(key, hints, where)
        hint = hints[key]
        path = f"{where}.{key}" if where else key
        if dataclasses.is_dataclass(hint):
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{path}: expected a mapping of its keys, got {value!r}")
            kwargs[key] = _build(hint, value, path)
        else:
            kwargs[key] = _convert(value, hint, path)
    obj = cls(**kwargs)
    return obj


def config_from_dict(values: Mapping[str, Any], source: str = "config") -> Config:
    """Build a :class:`Config` from nested dicts (missing keys take their defaults)."""
    values = {k: v for k, v in values.items() if k != "base"}
    try:
        return _build(Config, values, "")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dicts/lists (YAML- and torch.load(weights_only)-friendly)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        return v

    return plain(cfg)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"recipe {str(path)!r} not found (pass a YAML file, e.g. configs/demo.yaml)"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {str(path)!r} must be a mapping of sections, got {type(data)}")
    return data


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> Config:
    """Load a recipe (``None``: the built-in demo recipe), resolve ``base:``, apply overrides."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        data = _read_yaml(path)
        base = data.pop("base", None)
        if base is not None:
            base_path = (path.parent / str(base)).resolve()
            base_data = _read_yaml(base_path)
            if "base" in base_data:
                raise ConfigError(
                    f"{source}: base recipe {str(base_path)!r} has its own 'base:'; only one level "
                    "is allowed (copy the values you need into one base file)."
                )
            data = _merge(base_data, data)
    cfg = config_from_dict(data, source)
    return apply_overrides(cfg, overrides)


def apply_overrides(cfg: Config, overrides: Iterable[str]) -> Config:
    """Apply ``section.key=value`` strings, converting values to the field types."""
    values = config_to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        dotted, raw = item.split("=", 1)
        parts = dotted.strip().split(".")
        cls: Any = Config
        node = values
        for depth, part in enumerate(parts):
            hints = _hints(cls)
            if part not in hints:
                where = ".".join(parts[:depth]) or "the recipe"
                raise ConfigError(f"--set {item!r}: {_unknown(part, hints, where)}")
            hint = hints[part]
            last = depth == len(parts) - 1
            if dataclasses.is_dataclass(hint):
                if last:
                    raise ConfigError(f"--set {item!r}: {dotted} is a section; set one of its keys")
                cls, node = hint, node[part]
                continue
            if not last:
                if typing.get_origin(hint) is dict or _is_optional_dict(hint):
                    sub = node.get(part) or {}
                    sub = dict(sub)
                    _set_nested(sub, parts[depth + 1 :], _parse_scalar(raw))
                    node[part] = sub
                    break
                raise ConfigError(f"--set {item!r}: {'.'.join(parts[: depth + 1])} has no keys")
            try:
                node[part] = _convert(raw, hint, dotted)
            except ConfigError as exc:
                raise ConfigError(f"--set {item!r}: {exc}") from None
    return config_from_dict(values, "overrides")


def _is_optional_dict(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType) and any(
        typing.get_origin(a) is dict for a in typing.get_args(hint)
    )


def _set_nested(node: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def save_config(cfg: Config, path: str | Path) -> Path:
    """Write the resolved config as YAML (atomically)."""
    import os
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path
