"""The data of a training run: datasets built once, then the loaders of each epoch.

Datasets are built without transforms (their class count is needed to build the model); the
model's preprocessing (mean, std, crop) then gives the transforms, applied by the views of
:mod:`ffseg.data.views`. Data order comes from ``DistributedSampler(seed, epoch)`` and every
sample's augmentation from a seed of (seed, epoch, index), so a run resumed in the middle of an
epoch sees exactly the batches it would have seen.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, DistributedSampler, Sampler, Subset

from ffseg.config import Config
from ffseg.data import build_dataset
from ffseg.data.class_uniform import Centroids, ClassUniformSamples, class_centroids
from ffseg.data.datasets.base import IGNORE_INDEX, Transform
from ffseg.data.samplers import DistributedEvalSampler, SkipSampler
from ffseg.data.views import Decoded, SeededSamples, Transformed, held_bytes
from ffseg.engine.distributed import DistInfo

log = logging.getLogger(__name__)

__all__ = [
    "TrainData",
    "build_data",
    "decoded_in_memory",
    "iters_per_epoch",
    "loader_workers",
    "train_loader",
    "val_loader",
    "worker_error_cause",
]


@dataclass(frozen=True)
class TrainData:
    """The untransformed datasets of a recipe and what the run needs to know about them."""

    train: Dataset
    val: Dataset | None
    num_classes: int  # model.num_classes if set, else the dataset's
    classes: tuple[str, ...]
    palette: Sequence[tuple[int, int, int]]
    ignore_index: int
    centroids: Centroids | None = None  # class centroids of data.train (data.class_uniform > 0)


def _subset(ds: Dataset, n: int | None) -> Dataset:
    return ds if n is None or n >= len(ds) else Subset(ds, range(n))  # type: ignore[arg-type]


def decoded_in_memory(train: Dataset, cache: bool | str, memory: int | None = None) -> Dataset:
    """``train`` decoded once into memory (:class:`~ffseg.data.views.Decoded`) when
    ``data.cache`` asks: ``True``; ``"auto"`` when the decoded samples (estimated from the first)
    take at most an eighth of the machine's ``memory`` (bytes; default: this machine's RAM)."""
    if not cache or len(train) == 0:  # type: ignore[arg-type]
        return train
    if cache == "auto":
        memory = memory or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        need = held_bytes(train[0]) * len(train)  # type: ignore[arg-type]
        if need > memory // 8:
            log.info(
                "data.cache=auto: the training set is read from disk every epoch (decoded it "
                "would take ~%.1f GB, over an eighth of the %.0f GB of memory)",
                need / 1e9,
                memory / 1e9,
            )
            return train
    decoded = Decoded(train)
    log.info(
        "decoded the %d training samples into memory (%.0f MB, %.1f s; data.cache=%s)",
        len(decoded),
        decoded.nbytes / 1e6,
        decoded.seconds,
        cache,
    )
    return decoded


def build_data(cfg: Config) -> TrainData:
    """Build the training (plus ``data.extra_train``) and validation datasets, once."""
    d = cfg.data
    _check_root(d.root)
    train = build_dataset(d.name, d.root, d.train_split, None, **d.train_kwargs)
    parts = [train] + [
        build_dataset(d.name, d.root, extra["split"], None, **extra.get("kwargs", {}))
        for extra in d.extra_train  # e.g. Cityscapes coarse / pseudo-labelled images
    ]
    val = build_dataset(d.name, d.root, d.val_split, None, **d.val_kwargs) if d.val_split else None
    train_set = _subset(ConcatDataset(parts) if len(parts) > 1 else train, d.subset)
    train_set = decoded_in_memory(train_set, d.cache)
    num_classes = cfg.model.num_classes or train.num_classes
    ignore_index = int(getattr(train, "ignore_index", IGNORE_INDEX))
    uniform = d.class_uniform > 0 and d.task == "segmentation"
    return TrainData(
        train=train_set,
        val=_subset(val, d.val_subset) if val is not None else None,
        num_classes=num_classes,
        classes=tuple(train.classes),
        palette=tuple(getattr(train, "palette", ()) or ()),
        ignore_index=ignore_index,
        centroids=class_centroids(train_set, num_classes, ignore_index) if uniform else None,
    )


def _check_root(root: str | None) -> None:
    """A missing ``data.root`` names the folder a relative path was resolved against."""
    if root is None or Path(root).expanduser().exists():
        return
    path = Path(root).expanduser()
    where = "" if path.is_absolute() else f" (relative to the current folder {str(Path.cwd())!r})"
    raise FileNotFoundError(
        f"data.root {root!r} does not exist: looked for {str(path.absolute())!r}{where}; give "
        "the dataset folder with --set data.root=PATH (an absolute path works from anywhere)"
    )


def iters_per_epoch(data: TrainData, cfg: Config, world: int) -> int:
    """Full batches per process and epoch (``DistributedSampler`` pads the last shard)."""
    n_train = len(data.train)  # type: ignore[arg-type]
    per_rank = math.ceil(n_train / world) if world > 1 else n_train
    n = per_rank // cfg.data.batch_size
    if n < 1:
        raise ValueError(
            f"data.batch_size={cfg.data.batch_size} is larger than the {per_rank} training images "
            f"per process ({cfg.data.name}); lower data.batch_size or use more data."
        )
    return n


def loader_workers(workers: int | str, cores: int | None = None) -> int:
    """``data.workers`` as a number: ``"auto"`` is 0 on <= 2 logical cores (there, measured,
    loader processes slow the training step by more than the data work they take off it) and
    ``min(4, cores // 4)`` on more."""
    if workers != "auto":
        return int(workers)
    cores = cores or os.cpu_count() or 1
    return 0 if cores <= 2 else min(4, cores // 4)


def train_loader(
    data: TrainData,
    transform: Transform,
    cfg: Config,
    dist_info: DistInfo,
    epoch: int,
    skip_batches: int = 0,
    class_uniform: float = 0.0,
) -> DataLoader:
    """The shuffled loader of ``epoch`` without its first ``skip_batches`` batches; a share
    ``class_uniform`` of its crops is class-centred (``transform``: a
    :class:`~ffseg.data.class_uniform.CentredCropPreset`)."""
    seed = cfg.train.seed
    dataset: SeededSamples = (
        ClassUniformSamples(data.train, transform, seed, epoch, data.centroids, class_uniform)  # type: ignore[arg-type]
        if class_uniform > 0 and data.centroids is not None
        else SeededSamples(data.train, transform, seed, epoch)
    )
    sampler: Sampler[int] = DistributedSampler(
        dataset,
        num_replicas=dist_info.world_size,
        rank=dist_info.rank,
        shuffle=True,
        seed=cfg.train.seed,
        drop_last=True,
    )
    sampler.set_epoch(epoch)  # type: ignore[attr-defined]
    if skip_batches:
        sampler = SkipSampler(sampler, skip_batches * cfg.data.batch_size)
    return DataLoader(
        dataset,
        batch_size=cfg.data.batch_size,
        sampler=sampler,
        num_workers=loader_workers(cfg.data.workers),
        drop_last=True,
        pin_memory=dist_info.device.type == "cuda",
        generator=torch.Generator().manual_seed(cfg.train.seed + epoch),
    )


def val_loader(
    data: TrainData, transform: Transform, cfg: Config, dist_info: DistInfo
) -> DataLoader | None:
    """The validation loader (each rank its own shard, no padding), or ``None`` without one."""
    if data.val is None:
        return None
    dataset = Transformed(data.val, transform)
    return DataLoader(
        dataset,
        batch_size=cfg.eval.batch_size,
        sampler=DistributedEvalSampler(dataset, dist_info.world_size, dist_info.rank),
        num_workers=loader_workers(cfg.data.workers),
        generator=torch.Generator().manual_seed(cfg.train.seed),
    )


def worker_error_cause(exc: BaseException) -> BaseException | None:
    """The original error behind a DataLoader worker's re-raised one (whose message carries
    the worker's whole traceback), as the same type with only the original message; ``None``
    when ``exc`` did not come from a worker."""
    text = str(exc)
    if "DataLoader worker process" not in text or "Original Traceback" not in text:
        return None
    lines = text.rstrip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith(" ")]
    tail = " ".join(line.strip() for line in lines[frames[-1] + 1 if frames else -1 :])
    name, sep, message = tail.partition(": ")
    message = message if sep and " " not in name else tail
    if isinstance(exc, KeyError) and message[:1] == message[-1:] and message[:1] in "'\"":
        message = message[1:-1]
    try:
        return type(exc)(message)
    except Exception:
        return RuntimeError(message)
