"""The training loop: :func:`fit` runs a recipe end to end, :func:`train_one_epoch` one epoch.

Plain functions in the style of torchvision's references. ``fit`` builds data, model, loss,
optimizer and schedule from a :class:`~ffseg.config.Config`, trains with optional AMP, EMA,
knowledge distillation and DDP (``torchrun``), evaluates, and keeps everything in
``<output_dir>/<name>/``: ``config.yaml``, ``last.pt`` (resumable), ``best.safetensors``,
``summary.csv``, TensorBoard events (``tb/``) and prediction overlays.

Resuming is exact: data order comes from ``DistributedSampler(seed, epoch)``, augmentations
are seeded per (epoch, sample), and ``last.pt`` stores every RNG state and the position in the
epoch, so ``k`` iterations + resume + ``N - k`` iterations equal ``N`` straight iterations.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    DistributedSampler,
    Sampler,
    Subset,
)

from ffseg.config import Config, config_from_dict, config_to_dict, save_config
from ffseg.engine.checkpoint import (
    atomic_write,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
    save_weights,
)
from ffseg.engine.distributed import (
    DistInfo,
    cleanup_distributed,
    init_distributed,
    sync_buffers,
)
from ffseg.engine.ema import ModelEMA
from ffseg.engine.optim import build_optimizer, build_scheduler
from ffseg.losses import KDLoss, build_loss, build_teacher
from ffseg.models._base import SegOutput

__all__ = [
    "NonFiniteLossError",
    "TrainState",
    "amp_settings",
    "build_model",
    "fit",
    "train_one_epoch",
]

log = logging.getLogger("ffseg.train")

CHECKPOINT = "last.pt"
BEST = "best.safetensors"
SUMMARY = "summary.csv"
CONFIG = "config.yaml"


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainState:
    """Where the run is: finished epochs, global iteration, best score, evaluation history."""

    epoch: int = 0
    iteration: int = 0
    best_score: float = -1.0
    history: list[dict[str, float]] = field(default_factory=list)
    last: dict[str, float] = field(default_factory=dict)  # scalars of the latest iteration


# ----------------------------------------------------------------------------- data


class _SeededSamples(Dataset):
    """Draw each sample's augmentation from a seed of (seed, epoch, index), not the global RNG.

    Makes augmentations independent of worker count and of where a run was resumed.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.epoch * 10_007 + index) % 2**63)
            return self.dataset[index]


class _SkipSampler(Sampler[int]):
    """The first ``skip`` indices of ``base`` left out (mid-epoch resume)."""

    def __init__(self, base: Sampler[int], skip: int) -> None:
        self.base, self.skip = base, skip

    def __iter__(self):
        return iter(list(self.base)[self.skip :])

    def __len__(self) -> int:
        return max(0, len(self.base) - self.skip)  # type: ignore[arg-type]


@dataclass
class _Data:
    train: _SeededSamples
    val: Dataset | None
    val_raw: Dataset | None  # without transforms, for overlays
    num_classes: int
    classes: tuple[str, ...]
    palette: Sequence[tuple[int, int, int]]
    ignore_index: int


def _subset(ds: Dataset, n: int | None) -> Dataset:
    return ds if n is None or n >= len(ds) else Subset(ds, range(n))  # type: ignore[arg-type]


def _build_data(cfg: Config, mean: Sequence[float], std: Sequence[float], seed: int) -> _Data:
    from ffseg.data import build_dataset, eval_transforms, train_transforms

    d = cfg.data
    if d.task == "classification":
        from ffseg.data.transforms import imagenet_eval_transforms, imagenet_train_transforms

        size = d.crop_size[0]
        t_train: Any = imagenet_train_transforms(size, mean, std)
        t_val: Any = imagenet_eval_transforms(size, round(size * 256 / 224), mean, std)
    else:
        t_train = train_transforms(
            tuple(d.crop_size), mean, std, tuple(d.scale_range), d.hflip, d.color_jitter
        )
        t_val = eval_transforms(mean, std, tuple(cfg.eval.resize) if cfg.eval.resize else None)
    train = build_dataset(d.name, d.root, d.train_split, t_train, **d.train_kwargs)
    classes = tuple(train.classes)
    num_classes = train.num_classes
    ignore_index = int(getattr(train, "ignore_index", 255))
    palette = tuple(getattr(train, "palette", ()) or ())
    if d.extra_train:  # e.g. Cityscapes coarse / pseudo-labelled train_extra images
        parts = [train]
        for extra in d.extra_train:
            unknown = set(extra) - {"split", "kwargs"}
            if unknown or "split" not in extra:
                raise ValueError(
                    f"data.extra_train entries are {{split: ..., kwargs: {{...}}}}; got {extra!r}"
                )
            parts.append(
                build_dataset(d.name, d.root, extra["split"], t_train, **extra.get("kwargs", {}))
            )
        train = ConcatDataset(parts)
    val = val_raw = None
    if d.val_split:
        val = build_dataset(d.name, d.root, d.val_split, t_val, **d.val_kwargs)
        val_raw = build_dataset(d.name, d.root, d.val_split, None, **d.val_kwargs)
    return _Data(
        train=_SeededSamples(_subset(train, d.subset), seed),
        val=_subset(val, d.val_subset) if val is not None else None,
        val_raw=val_raw,
        num_classes=cfg.model.num_classes or num_classes,
        classes=classes,
        palette=palette,
        ignore_index=ignore_index,
    )


def _train_loader(
    data: _Data, cfg: Config, dist_info: DistInfo, epoch: int, skip_batches: int
) -> DataLoader:
    sampler: Sampler[int] = DistributedSampler(
        data.train,
        num_replicas=dist_info.world_size,
        rank=dist_info.rank,
        shuffle=True,
        seed=cfg.train.seed,
        drop_last=True,
    )
    sampler.set_epoch(epoch)  # type: ignore[attr-defined]
    if skip_batches:
        sampler = _SkipSampler(sampler, skip_batches * cfg.data.batch_size)
    data.train.epoch = epoch
    return DataLoader(
        data.train,
        batch_size=cfg.data.batch_size,
        sampler=sampler,
        num_workers=cfg.data.workers,
        drop_last=True,
        pin_memory=dist_info.device.type == "cuda",
        generator=torch.Generator().manual_seed(cfg.train.seed + epoch),
    )


def _iters_per_epoch(data: _Data, cfg: Config, world: int) -> int:
    per_rank = math.ceil(len(data.train) / world) if world > 1 else len(data.train)
    n = per_rank // cfg.data.batch_size
    if n < 1:
        raise ValueError(
            f"data.batch_size={cfg.data.batch_size} is larger than the {per_rank} training images "
            f"per process ({cfg.data.name}); lower data.batch_size or use more data."
        )
    return n


def _val_loader(data: _Data, cfg: Config, dist_info: DistInfo) -> DataLoader | None:
    if data.val is None:
        return None
    from ffseg.data.samplers import DistributedEvalSampler

    sampler = DistributedEvalSampler(data.val, dist_info.world_size, dist_info.rank)
    return DataLoader(
        data.val,
        batch_size=cfg.eval.batch_size,
        sampler=sampler,
        num_workers=cfg.data.workers,
        generator=torch.Generator().manual_seed(cfg.train.seed),
    )


# ----------------------------------------------------------------------------- model


def _load_callable(spec: str) -> Callable[..., nn.Module]:
    """``"package.module:callable"`` -> the callable (custom models in recipes)."""
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"model.name {spec!r}: cannot import {attr!r} from {module_name!r} ({exc}); use a "
            "registered model name (ffseg list) or 'package.module:callable'."
        ) from exc
    return obj


def build_model(cfg: Config, num_classes: int) -> nn.Module:
    """The model of a recipe: a registered name, or ``"package.module:callable"`` + kwargs."""
    m = cfg.model
    if ":" in m.name:
        model = _load_callable(m.name)(num_classes=num_classes, **m.kwargs)
        if m.pretrained or m.pretrained_backbone:
            from ffseg.models._weights import load_backbone_weights, load_pretrained_weights

            if m.pretrained:
                load_pretrained_weights(model, m.pretrained)
            if m.pretrained_backbone:
                load_backbone_weights(model, m.pretrained_backbone)
        return model
    from ffseg.models import create_model

    return create_model(
        m.name,
        pretrained=m.pretrained,
        num_classes=num_classes,
        pretrained_backbone=m.pretrained_backbone,
        **m.kwargs,
    )


class _TrainForward(nn.Module):
    """``forward`` = the model's ``forward_train`` (so DDP and ``torch.compile`` wrap it)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> SegOutput:
        if hasattr(self.model, "forward_train"):
            return self.model.forward_train(x)
        return SegOutput(logits=self.model(x))


def amp_settings(amp: str, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """``(autocast dtype or None, use GradScaler)`` for ``train.amp`` on ``device``.

    CPU: ``bf16`` (``auto`` = fp32). CUDA: ``fp16`` with GradScaler or ``bf16``
    (``auto`` = bf16 when supported, else fp16).
    """
    amp = amp.lower()
    if amp in ("none", "fp32", "off", "false"):
        return None, False
    if device.type == "cuda":
        bf16_ok = torch.cuda.is_bf16_supported()
        if amp == "auto":
            amp = "bf16" if bf16_ok else "fp16"
        if amp == "fp16":
            return torch.float16, True
        if amp == "bf16":
            if not bf16_ok:
                raise ValueError("train.amp=bf16 but this GPU has no bf16 support; use fp16")
            return torch.bfloat16, False
    else:
        if amp == "auto":
            return None, False
        if amp == "bf16":
            return torch.bfloat16, False
        if amp == "fp16":
            raise ValueError("train.amp=fp16 needs a CUDA GPU; on CPU use train.amp=bf16 (or none)")
    raise ValueError(f"train.amp must be none, bf16, fp16 or auto; got {amp!r}")


# ----------------------------------------------------------------------------- one epoch


@dataclass
class _StepContext:
    """Everything :func:`train_one_epoch` needs besides model, data and optimizer."""

    device: torch.device
    amp_dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None
    grad_clip: float | None = None
    channels_last: bool = False
    ema: ModelEMA | None = None
    raw_model: nn.Module | None = None
    teacher: nn.Module | None = None
    kd_loss: KDLoss | None = None
    kd_weight: float = 0.0
    distributed: bool = False


def _finite_everywhere(loss: torch.Tensor, distributed: bool) -> bool:
    ok = torch.isfinite(loss.detach()).float()
    if distributed:
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok.item() > 0)


def train_one_epoch(
    model: nn.Module,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: DataLoader,
    ctx: _StepContext,
    *,
    max_steps: int | None = None,
    after_step: Callable[[dict[str, float]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Any = None,
) -> dict[str, float]:
    """Train over ``loader`` (at most ``max_steps`` batches); returns mean loss terms and img/s.

    ``model`` returns a :class:`SegOutput` (wrap a model with its ``forward_train``); the loss is
    computed in fp32 outside autocast. ``after_step`` receives each step's scalars (used by
    :func:`fit` for logging and checkpointing); ``should_stop()`` ends the epoch early. Raises :class:`NonFiniteLossError` before
    touching the weights when the loss is not finite.
    """
    model.train()
    sums: dict[str, float] = {}
    steps = images_seen = 0
    start = time.perf_counter()
    device = ctx.device
    for images, targets in loader:
        if max_steps is not None and steps >= max_steps:
            break
        t0 = time.perf_counter()
        images = images.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        if ctx.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=ctx.amp_dtype, enabled=ctx.amp_dtype is not None):
            out = model(images)
            teacher_logits = None
            if ctx.teacher is not None:
                with torch.no_grad():
                    teacher_logits = ctx.teacher(images)
        out = SegOutput(
            logits=out.logits.float(),
            aux=[type(a)(a.name, a.logits.float(), a.weight, a.kind) for a in out.aux],
        )
        loss, terms = criterion(out, targets)
        if teacher_logits is not None and ctx.kd_loss is not None:
            kd = ctx.kd_loss(out.logits, teacher_logits, targets)
            terms["kd"] = kd.detach()
            loss = loss + ctx.kd_weight * kd
        if not _finite_everywhere(loss, ctx.distributed):
            shown = ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
            raise NonFiniteLossError(f"loss is {float(loss.detach())} ({shown})")
        optimizer.zero_grad(set_to_none=True)
        scaler = ctx.scaler
        if scaler is not None and scaler.is_enabled():
            scaler.scale(loss).backward()
            if ctx.grad_clip:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), ctx.grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if ctx.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), ctx.grad_clip)
            optimizer.step()
        scheduler.step()
        if ctx.ema is not None:
            ctx.ema.update_parameters(ctx.raw_model)
        steps += 1
        batch = images.shape[0]
        images_seen += batch
        scalars = {"loss": float(loss.detach()), **{k: float(v) for k, v in terms.items()}}
        for k, v in scalars.items():
            sums[k] = sums.get(k, 0.0) + v
        dt = max(time.perf_counter() - t0, 1e-9)
        scalars["lr"] = optimizer.param_groups[0]["lr"]
        scalars["img_s"] = batch * (dist.get_world_size() if ctx.distributed else 1) / dt
        if progress is not None:
            progress.update(1)
            progress.set_postfix(
                loss=f"{scalars['loss']:.4f}",
                lr=f"{scalars['lr']:.2e}",
                img_s=f"{scalars['img_s']:.1f}",
            )
        if after_step is not None:
            after_step(scalars)
        if should_stop is not None and should_stop():
            break
    elapsed = max(time.perf_counter() - start, 1e-9)
    result = {k: v / max(steps, 1) for k, v in sums.items()}
    result["steps"] = float(steps)
    result["img_s"] = images_seen * (dist.get_world_size() if ctx.distributed else 1) / elapsed
    return result


# ----------------------------------------------------------------------------- evaluation


def _evaluate(
    model: nn.Module, loader: DataLoader, cfg: Config, data: _Data, device: torch.device,
    amp_dtype: torch.dtype | None, progress: bool,
) -> dict[str, Any]:  # fmt: skip
    from ffseg.engine.evaluate import evaluate, evaluate_classification

    if cfg.data.task == "classification":
        topk = (1, 5) if data.num_classes >= 5 else (1,)
        out = evaluate_classification(
            model, loader, device=device, topk=topk, amp_dtype=amp_dtype, progress=progress
        )
        return {**out, "miou": out["top1"]}  # "miou" is the score fit tracks

    e = cfg.eval
    return evaluate(
        model,
        loader,
        data.num_classes,
        device=device,
        ignore_index=data.ignore_index,
        mode=e.mode,
        crop_size=tuple(e.crop_size) if e.crop_size else None,
        stride=tuple(e.stride) if e.stride else None,
        scales=tuple(e.scales),
        flip=e.flip,
        amp_dtype=amp_dtype,
        progress=progress,
    )


# ----------------------------------------------------------------------------- run folder


def _seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def _pick_run_dir(cfg: Config, dist_info: DistInfo) -> Path:
    """``<output_dir>/<name>``; a name already holding a run gets ``-2``, ``-3``... appended."""
    base = Path(cfg.train.output_dir)
    choice = [None]
    if dist_info.is_main:
        name, k = cfg.train.name, 1
        while (base / name / CHECKPOINT).exists() or (base / name / CONFIG).exists():
            k += 1
            name = f"{cfg.train.name}-{k}"
        choice = [str(base / name)]
    if dist_info.distributed:
        dist.broadcast_object_list(choice, src=0)
    return Path(choice[0])  # type: ignore[arg-type]


def _write_summary(path: Path, history: list[dict[str, float]]) -> None:
    if not history:
        return
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write(path, lambda tmp: Path(tmp).write_text(buf.getvalue()))


def _tensorboard(run_dir: Path, enabled: bool, purge_step: int | None) -> Any:
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.info("tensorboard is not installed (pip install tensorboard): no TensorBoard logs")
        return None
    return SummaryWriter(str(run_dir / "tb"), purge_step=purge_step)


def write_overlays(
    model: nn.Module, data: _Data, cfg: Config, run_dir: Path, device: torch.device, count: int
) -> list[Path]:
    """Save ``count`` validation predictions as PNG panels: image | prediction | ground truth."""
    if count <= 0 or data.val is None or data.val_raw is None or cfg.data.task != "segmentation":
        return []
    from PIL import Image

    from ffseg.inference import colorize, overlay
    from ffseg.losses._utils import resize_logits

    palette = list(data.palette) or [
        tuple(
            int(c) for c in torch.randint(0, 256, (3,), generator=torch.Generator().manual_seed(i))
        )
        for i in range(data.num_classes)
    ]
    out_dir = run_dir / "overlays"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    model.eval()
    for i in range(min(count, len(data.val))):
        image, mask = data.val[i]
        raw, _ = data.val_raw[i]
        with torch.no_grad():
            logits = model(image.unsqueeze(0).to(device)).float()
            pred = resize_logits(logits, mask.shape[-2:]).argmax(1)[0].cpu()
        rgb = np.asarray(raw.permute(1, 2, 0).numpy(), dtype=np.uint8)
        if rgb.shape[:2] != tuple(mask.shape[-2:]):
            rgb = np.asarray(Image.fromarray(rgb).resize(mask.shape[::-1]))
        panels = [Image.fromarray(rgb), overlay(rgb, pred, palette), colorize(mask, palette)]
        w, h = panels[0].size
        canvas = Image.new("RGB", (3 * w, h))
        for j, p in enumerate(panels):
            canvas.paste(p, (j * w, 0))
        path = out_dir / f"val_{i:03d}.png"
        atomic_write(path, lambda tmp, c=canvas: c.save(tmp, format="PNG"))
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- fit


def _resolve_resume(resume: str | Path) -> tuple[Path, dict[str, Any]]:
    path = Path(resume)
    ckpt_path = path / CHECKPOINT if path.is_dir() else path
    return ckpt_path.parent, load_checkpoint(ckpt_path)


def fit(
    cfg: Config,
    *,
    resume: str | Path | None = None,
    on_step: Callable[[TrainState], None] | None = None,
) -> dict[str, Any]:
    """Train a recipe; returns the final metrics plus ``run_dir``, ``best_score``, ``seconds``.

    Args:
        cfg: the recipe.
        resume: a run folder (or its ``last.pt``); the run continues exactly where it stopped,
            with the configuration stored in the checkpoint.
        on_step: called after every iteration (and any checkpoint it triggers) with the state.
    """
    ckpt: dict[str, Any] | None = None
    run_dir: Path | None = None
    if resume is not None:
        run_dir, ckpt = _resolve_resume(resume)
        cfg = config_from_dict(ckpt["config"], f"{run_dir / CHECKPOINT} (config)")
    dist_info = init_distributed(cfg.train.device)
    try:
        return _fit(cfg, dist_info, run_dir, ckpt, on_step)
    finally:
        cleanup_distributed()


def _fit(
    cfg: Config,
    dist_info: DistInfo,
    run_dir: Path | None,
    ckpt: dict[str, Any] | None,
    on_step: Callable[[TrainState], None] | None,
) -> dict[str, Any]:
    t_start = time.perf_counter()
    device = dist_info.device
    main = dist_info.is_main
    seed = cfg.train.seed
    _seed_everything(seed + dist_info.rank, cfg.train.deterministic)
    if run_dir is None:
        run_dir = _pick_run_dir(cfg, dist_info)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / CONFIG)
        log.info("run folder: %s", run_dir)

    # model first: its pretrained_cfg gives mean / std for the transforms
    from ffseg.data import build_dataset  # noqa: F401  (fail early if data is unavailable)

    probe_classes = cfg.model.num_classes
    data = None
    if probe_classes is None:
        data = _build_data(cfg, (0.0,) * 3, (1.0,) * 3, seed)
        probe_classes = data.num_classes
    model = build_model(cfg, probe_classes)
    pcfg = getattr(model, "pretrained_cfg", None)
    mean = tuple(getattr(pcfg, "mean", (0.485, 0.456, 0.406)))
    std = tuple(getattr(pcfg, "std", (0.229, 0.224, 0.225)))
    data = _build_data(cfg, mean, std, seed)
    data.num_classes = probe_classes
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
    if cfg.model.sync_bn and dist_info.distributed:
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        else:
            log.warning("model.sync_bn needs CUDA; using per-process BatchNorm on CPU")
    model.to(device)
    if cfg.model.channels_last:
        model.to(memory_format=torch.channels_last)

    amp_dtype, use_scaler = amp_settings(cfg.train.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
    ipe = _iters_per_epoch(data, cfg, dist_info.world_size)
    total_iters = cfg.train.iters or cfg.train.epochs * ipe
    epochs = math.ceil(total_iters / ipe)
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.sched, total_iters)
    ema = ModelEMA(model, cfg.train.ema_decay, cfg.train.ema_warmup) if cfg.train.ema else None
    criterion = build_loss(cfg.loss, data.ignore_index).to(device)
    teacher = kd_loss = None
    if cfg.kd.weight > 0:
        teacher = build_teacher(
            cfg.kd.teacher, cfg.kd.teacher_checkpoint, data.num_classes, cfg.kd.teacher_kwargs,
            cfg.kd.smp,
        ).to(device)  # fmt: skip
        kd_loss = KDLoss(cfg.kd.temperature, data.ignore_index)

    state = TrainState()
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        if ema is not None and ckpt.get("ema") is not None:
            ema.module.load_state_dict(ckpt["ema"])
            ema.n_averaged.copy_(ckpt["ema_updates"])
        s = ckpt["state"]
        state = TrainState(
            int(s["epoch"]), int(s["iteration"]), float(s["best_score"]), list(s["history"])
        )
        rng = ckpt["rng"]
        restore_rng_state(rng[dist_info.rank] if isinstance(rng, list) else rng)
        log.info("resumed %s at epoch %d, iteration %d", run_dir, state.epoch, state.iteration)

    train_module: nn.Module = _TrainForward(model)
    if dist_info.distributed:
        train_module = nn.parallel.DistributedDataParallel(
            train_module, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.model.compile:
        train_module = torch.compile(train_module)
    ctx = _StepContext(
        device=device, amp_dtype=amp_dtype, scaler=scaler, grad_clip=cfg.optim.grad_clip,
        channels_last=cfg.model.channels_last, ema=ema, raw_model=model, teacher=teacher,
        kd_loss=kd_loss, kd_weight=cfg.kd.weight, distributed=dist_info.distributed,
    )  # fmt: skip
    val_loader = _val_loader(data, cfg, dist_info)
    writer = _tensorboard(run_dir, main and cfg.log.tensorboard, state.iteration or None)
    ckpt_path = run_dir / CHECKPOINT

    def checkpoint() -> None:
        rng = capture_rng_state()
        if dist_info.distributed:  # every rank's RNG, gathered on rank 0
            gathered: list[Any] = [None] * dist_info.world_size
            dist.all_gather_object(gathered, rng)
            rng = gathered
        if not main:
            return
        save_checkpoint(
            {
                "model": model.state_dict(),
                "ema": ema.module.state_dict() if ema is not None else None,
                "ema_updates": ema.n_averaged.clone() if ema is not None else None,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                "state": {
                    "epoch": state.epoch,
                    "iteration": state.iteration,
                    "best_score": state.best_score,
                    "history": state.history,
                },
                "rng": rng,
                "config": config_to_dict(cfg),
                "ffseg_checkpoint": 1,
            },
            ckpt_path,
        )

    metrics: dict[str, Any] = {}
    show = main and cfg.log.progress
    if main:
        log.info(
            "training %s on %s (%d train / %d val images, %d classes): %d iterations "
            "(%d epochs x %d), batch %d x %d process(es), device %s, amp %s",
            cfg.model.name, cfg.data.name, len(data.train), len(data.val or []),
            data.num_classes, total_iters, epochs, ipe, cfg.data.batch_size,
            dist_info.world_size, device, str(amp_dtype or "fp32").replace("torch.", ""),
        )  # fmt: skip
    try:
        while state.iteration < total_iters:
            epoch = state.epoch
            skip = state.iteration - epoch * ipe
            steps = min(ipe - skip, total_iters - state.iteration)
            loader = _train_loader(data, cfg, dist_info, epoch, skip)
            bar = None
            if show:
                from tqdm.auto import tqdm

                bar = tqdm(
                    total=skip + steps, initial=skip, desc=f"epoch {epoch + 1}/{epochs}",
                    dynamic_ncols=True, leave=False,
                )  # fmt: skip

            def after_step(scalars: dict[str, float], epoch: int = epoch) -> None:
                state.iteration += 1
                state.last = scalars
                if writer is not None and state.iteration % max(cfg.log.log_every, 1) == 0:
                    for k, v in scalars.items():
                        writer.add_scalar(f"train/{k}", v, state.iteration)
                if state.iteration % ipe == 0:
                    state.epoch = epoch + 1
                every = cfg.train.ckpt_every
                if every and state.iteration % every == 0 and state.iteration % ipe != 0:
                    checkpoint()
                if on_step is not None:
                    on_step(state)

            time_up = False

            def should_stop() -> bool:
                nonlocal time_up
                if cfg.train.max_minutes is None:
                    return False
                up = torch.tensor(float(time.perf_counter() - t_start > cfg.train.max_minutes * 60))
                if dist_info.distributed:  # rank 0 decides for everyone
                    dist.broadcast(up, src=0)
                time_up = bool(up.item() > 0)
                return time_up

            try:
                result = train_one_epoch(
                    train_module, criterion, optimizer, scheduler, loader, ctx,
                    max_steps=steps, after_step=after_step, should_stop=should_stop, progress=bar,
                )  # fmt: skip
            finally:
                if bar is not None:
                    bar.close()
            if time_up:
                log.info("train.max_minutes reached at iteration %d: stopping", state.iteration)
            done = time_up or state.iteration >= total_iters
            if dist_info.distributed:
                sync_buffers(model)
            if state.iteration % ipe == 0:
                state.epoch = max(state.epoch, epoch + 1)
            row: dict[str, float] = {
                "epoch": float(state.epoch),
                "iteration": float(state.iteration),
                "train_loss": result.get("loss", float("nan")),
                "lr": optimizer.param_groups[0]["lr"],
                "img_s": result["img_s"],
            }
            if val_loader is not None and (done or state.epoch % max(cfg.train.eval_every, 1) == 0):
                metrics = _evaluate(model, val_loader, cfg, data, device, amp_dtype, show)
                row["miou"] = float(metrics["miou"])
                row.update({k: float(metrics[k]) for k in ("aacc", "macc") if k in metrics})
                score, best_source = row["miou"], model
                if ema is not None:
                    ema_metrics = _evaluate(
                        ema.module, val_loader, cfg, data, device, amp_dtype, False
                    )
                    row["miou_ema"] = float(ema_metrics["miou"])
                    if row["miou_ema"] > score:
                        score, best_source = row["miou_ema"], ema.module
                if main:
                    _log_eval(writer, metrics, data.classes, state.iteration)
                    if ema is not None and writer is not None:
                        writer.add_scalar("val/miou_ema", row["miou_ema"], state.iteration)
                if score > state.best_score:
                    state.best_score = score
                    if main:
                        save_weights(
                            best_source.state_dict(), run_dir / BEST,
                            {"iteration": str(state.iteration), "score": f"{score:.6f}",
                             "source": "ema" if best_source is not model else "model"},
                        )  # fmt: skip
            row["seconds"] = time.perf_counter() - t_start
            state.history.append(row)
            if main:
                log.info(
                    "epoch %d/%d  iter %d/%d  loss %.4f  lr %.2e  %.1f img/s%s",
                    state.epoch, epochs, state.iteration, total_iters, row["train_loss"],
                    row["lr"], row["img_s"],
                    "".join(f"  {k} {row[k] * 100:.2f}" for k in ("miou", "miou_ema") if k in row),
                )  # fmt: skip
            checkpoint()
            if main:
                _write_summary(run_dir / SUMMARY, state.history)
            if time_up:
                break
    except NonFiniteLossError as exc:
        where = (
            f"the last good checkpoint {ckpt_path} is kept"
            if ckpt_path.exists()
            else "no checkpoint had been written yet"
        )
        raise NonFiniteLossError(
            f"training stopped at epoch {state.epoch + 1}, iteration {state.iteration + 1}: {exc}; "
            f"{where}. Lower optim.lr, set optim.grad_clip, check the data, or use "
            "train.amp=none; resume with --resume after changing the recipe."
        ) from None
    finally:
        if writer is not None:
            writer.close()

    overlays: list[Path] = []
    if main and cfg.log.overlays:
        best_model = ema.module if ema is not None else model
        overlays = write_overlays(best_model, data, cfg, run_dir, device, cfg.log.overlays)
    if main and metrics and cfg.data.task == "segmentation":
        from ffseg.metrics import format_table

        log.info("final validation:\n%s", format_table(metrics, data.classes))
    return {
        **metrics,
        "run_dir": run_dir,
        "best_score": state.best_score,
        "iterations": state.iteration,
        "seconds": time.perf_counter() - t_start,
        "overlays": overlays,
        "num_classes": data.num_classes,
        "model": model,
    }


def _log_eval(writer: Any, metrics: dict[str, Any], classes: Sequence[str], step: int) -> None:
    if writer is None:
        return
    for key in ("miou", "aacc", "macc", "fwiou", "top1"):
        if key in metrics:
            writer.add_scalar(f"val/{key}", float(metrics[key]), step)
    for name, value in zip(classes, metrics.get("iou", [])):
        if value == value:  # not NaN
            writer.add_scalar(f"val_iou/{name}", float(value), step)
