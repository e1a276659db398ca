"""The recipe schema: one dataclass per section, enum-like keys typed as ``Literal`` choices.

The defaults are neutral (no model, no dataset arguments): a recipe names what it trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AmpName",
    "CalibrateConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "DatasetName",
    "EvalConfig",
    "EvalMode",
    "FeatureLoss",
    "KDConfig",
    "LogConfig",
    "LossConfig",
    "LossName",
    "ModelConfig",
    "OptimConfig",
    "OptimName",
    "SchedConfig",
    "SchedName",
    "TaskName",
    "TrainConfig",
]

# The choices of enum-like keys, checked when a recipe is loaded.
DatasetName = Literal["cityscapes", "camvid", "folder", "imagenet", "synthetic"]
TaskName = Literal["segmentation", "classification"]
LossName = Literal["ce", "ohem", "dice"]
OptimName = Literal["sgd", "adamw", "rmsprop"]
SchedName = Literal["poly", "cosine", "linear", "constant"]
FeatureLoss = Literal["mse", "cosine"]
AmpName = Literal["none", "fp32", "bf16", "fp16", "auto"]  # ffseg.engine.precision.PRECISIONS
EvalMode = Literal["whole", "slide"]


class ConfigError(ValueError):
    """A recipe or override is invalid (unknown key, wrong type, bad value)."""


@dataclass
class DataConfig:
    """Dataset, augmentation and loader settings."""

    name: DatasetName = "synthetic"
    root: str | None = None
    task: TaskName = "segmentation"
    train_split: str = "train"
    val_split: str = "val"
    train_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the dataset class
    val_kwargs: dict[str, Any] = field(default_factory=dict)
    crop_size: tuple[int, int] = (96, 128)
    scale_range: tuple[float, float] = (0.75, 1.25)
    hflip: bool = True
    color_jitter: float | None = None
    batch_size: int = 8  # per process
    # loader processes; "auto": none on a CPU of <= 2 logical cores, where worker processes slow
    # the step more than they save (docs/benchmarks/training.md), else min(4, cores // 4)
    workers: int | Literal["auto"] = 0
    # keep the decoded training set in memory (no file reads or decoding after the first pass):
    # true, false, or "auto" (when it takes at most 1/8 of the machine's memory)
    cache: bool | Literal["auto"] = False
    extra_train: list[dict[str, Any]] = field(default_factory=list)  # [{split, kwargs}] added
    subset: int | None = None  # use only the first N training images
    val_subset: int | None = None
    # class-uniform sampling: this share of training crops is centred on a pixel of a class
    # drawn uniformly among those present in the image (0: off, plain random crops)
    class_uniform: float = 0.0
    class_uniform_off_at: float = 1.0  # ...until this fraction of training (1.0: never off)


@dataclass
class ModelConfig:
    """Which network to train and how to initialise it."""

    name: str = ""  # required: a registered name (ffseg list), or "package.module:callable"
    num_classes: int | None = None  # default: the dataset's
    pretrained: str | None = None  # full checkpoint (head re-initialised if classes differ)
    pretrained_backbone: str | None = None  # encoder-only init, e.g. an ImageNet X checkpoint
    kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the model's constructor
    sync_bn: bool = False
    channels_last: bool = False
    compile: bool = False


@dataclass
class LossConfig:
    """Main loss plus optional extra terms (weights 0 disable them)."""

    name: LossName = "ce"
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

    name: OptimName = "adamw"
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

    name: SchedName = "poly"
    power: float = 0.9
    warmup_iters: int = 10
    warmup_factor: float = 0.1  # LR multiplier at iteration 0 of the linear warm-up
    min_lr_ratio: float = 0.0  # floor, as a fraction of the base LR
    warmup_fraction: float = 0.01  # budget runs (train.max_minutes): warm-up share of the budget


@dataclass
class TrainConfig:
    """Loop length, precision, device, EMA, checkpointing and run folder."""

    epochs: int = 6
    iters: int | None = None  # total iterations; overrides epochs when set
    # a wall-clock budget: the LR schedule follows the elapsed share of it, training stops in
    # time for one final evaluation and save; train.epochs / train.iters are then not used
    max_minutes: float | None = None
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: AmpName = "none"  # none (= fp32) | bf16 | fp16 | auto
    ema: bool = False
    ema_decay: float = 0.999
    ema_warmup: int = 100  # decay ramps up as 1 - exp(-n / ema_warmup)
    eval_every: int = 3  # epochs; the last epoch is always evaluated
    ckpt_every: int = 0  # also write last.pt every N iterations (0: at epoch ends only)
    output_dir: str = "runs"
    name: str = "run"
    deterministic: bool = False
    dist_timeout_s: float = 1800.0  # how long ranks wait for each other in a collective


@dataclass
class KDConfig:
    """Distillation from a frozen teacher: Hinton logits KD (``weight``) and feature KD
    (``feature_weight``); weights 0 disable them."""

    teacher: str | None = None  # registered model name or "package.module:callable"
    teacher_checkpoint: str | None = None
    teacher_kwargs: dict[str, Any] = field(default_factory=dict)
    smp: dict[str, Any] | None = None  # segmentation_models_pytorch.create_model(**smp)
    temperature: float = 4.0
    weight: float = 0.0
    # feature distillation: a 1x1 conv + BN adapter maps the student's feature at level
    # feature_level (an index into feature_info, -1: the last) to the teacher's at the same level
    feature_weight: float = 0.0
    feature_level: int = -1
    feature_loss: FeatureLoss = "mse"


@dataclass
class EvalConfig:
    """Validation settings (passed to :func:`ffseg.engine.evaluate.evaluate`)."""

    mode: EvalMode = "whole"
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
class CalibrateConfig:
    """A budget recipe's variants for the machine it runs on (see :mod:`ffseg.engine.calibrate`).

    ``candidates``: in order of preference, each ``{name, min_iters, set: {section.key: value}}``;
    at the start of a run the first whose timed steps promise ``min_iters`` iterations in the
    budget is chosen. ``pick`` pins a candidate by name without timing (a run records its
    choice here, so a resume or a rerun from its ``config.yaml`` trains the same variant).
    """

    candidates: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 2  # timed steps per candidate, after one warm-up step
    pick: str | None = None


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
    calibrate: CalibrateConfig = field(default_factory=CalibrateConfig)
