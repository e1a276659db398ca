"""``ffseg val``: mIoU and per-class IoU of a model on a dataset split, optional predictions."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from torch.utils.data import DataLoader, Subset

from ffseg.cli.data import add_dataset_args, dataset_from_args
from ffseg.data import eval_transforms, trainid_to_labelid
from ffseg.data.samplers import DistributedEvalSampler
from ffseg.data.transforms import imagenet_eval_transforms
from ffseg.engine.evaluate import evaluate, evaluate_classification
from ffseg.metrics import format_table

__all__ = ["register", "write_json_atomic"]

log = logging.getLogger(__name__)
_AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "val",
        help="evaluate a model: mIoU, per-class IoU, aAcc (whole / slide, multi-scale, flip)",
        description="Evaluate a segmentation model on a dataset split; logits are resized "
        "bilinearly to the label size before argmax.",
    )
    p.add_argument("--model", required=True, help="registered model name (see `ffseg list`)")
    p.add_argument("--weights", default=None, help=".pth/.pt/.safetensors file or saved folder")
    p.add_argument("--ema", action="store_true", help="use the EMA weights of a checkpoint")
    add_dataset_args(p)
    p.add_argument("--split", default="val")
    p.add_argument("--mode", default="whole", choices=("whole", "slide"))
    p.add_argument("--crop-size", nargs=2, type=int, metavar=("H", "W"), help="slide window")
    p.add_argument("--stride", nargs=2, type=int, metavar=("H", "W"), help="slide stride")
    p.add_argument("--scales", default="1.0", help="comma-separated, e.g. 0.75,1.0,1.25")
    p.add_argument("--flip", action="store_true", help="add horizontally flipped passes")
    p.add_argument("--align-corners", action="store_true", help="bilinear align_corners=True")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto")
    p.add_argument("--amp", default="none", choices=sorted(_AMP), help="autocast dtype")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    p.add_argument("--save-preds", default=None, metavar="DIR", help="write prediction PNGs")
    p.add_argument("--results-file", default=None, metavar="FILE", help="write results JSON")
    p.set_defaults(func=run_val)


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name} but CUDA is not available; use --device cpu")
    return torch.device(name)


def _init_distributed(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def build_model(args: argparse.Namespace, num_classes: int) -> torch.nn.Module:
    """The model with ``num_classes`` outputs, weights loaded and head checked (no re-init)."""
    from ffseg.models import create_model, load_pretrained
    from ffseg.models._weights import load_pretrained_weights, read_state_dict

    weights = Path(args.weights) if args.weights else None
    if weights is not None and weights.is_dir():
        model = load_pretrained(weights)
    else:
        model = create_model(args.model, num_classes=num_classes)
        if weights is not None:
            _check_head(model, read_state_dict(weights, use_ema=args.ema), weights, num_classes)
            load_pretrained_weights(model, weights, use_ema=args.ema)
    out = getattr(model, "num_classes", num_classes)
    if out != num_classes:
        raise ValueError(
            f"Model {args.model} ({weights}) predicts {out} classes but --data {args.data} has "
            f"{num_classes}; evaluate it on matching data."
        )
    if weights is None:
        log.warning("no --weights given: evaluating randomly initialised %s", args.model)
    return model


def _check_head(model: torch.nn.Module, state: dict, path: Path, num_classes: int) -> None:
    head = getattr(model.pretrained_cfg, "classifier", "")
    own = model.state_dict()
    for key, value in state.items():
        if head and key.startswith(f"{head}.") and key in own and value.shape != own[key].shape:
            raise ValueError(
                f"Weights {str(path)!r} have a {value.shape[0]}-class head ({key}) but the "
                f"dataset has {num_classes} classes; an untrained head would give a meaningless "
                "mIoU. Evaluate on the dataset the weights were trained for."
            )


def _save_atomic(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(data: Any, path: str | Path) -> Path:
    """Write JSON (NaN -> null) via a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def clean(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(clean(data), f, indent=2, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class _PredictionWriter:
    """Saves colour, train-id and (Cityscapes) label-id PNGs named after each sample."""

    def __init__(self, out: Path, dataset: Any, indices: list[int], batch_size: int) -> None:
        self.out, self.dataset, self.indices, self.batch_size = out, dataset, indices, batch_size
        self.palette = np.zeros((256, 3), np.uint8)
        self.palette[: len(dataset.palette)] = np.asarray(dataset.palette, np.uint8)
        self.cityscapes = type(dataset).__name__ == "Cityscapes"

    def __call__(self, pred: torch.Tensor, batch_index: int) -> None:
        for j, p in enumerate(pred.cpu().numpy().astype(np.uint8)):
            name = self.dataset.sample_name(self.indices[batch_index * self.batch_size + j])
            _save_atomic(Image.fromarray(self.palette[p]), self.out / "color" / f"{name}.png")
            _save_atomic(Image.fromarray(p), self.out / "trainIds" / f"{name}.png")
            if self.cityscapes:
                ids = Image.fromarray(trainid_to_labelid(p))
                _save_atomic(ids, self.out / "labelIds" / f"{name}.png")


def _run_classification(args: argparse.Namespace, device: torch.device, world: int) -> int:
    """``--data imagenet``: top-1 / top-5 of a classification model (per-sample counts)."""
    probe = dataset_from_args(args, args.split)
    model = build_model(args, probe.num_classes).to(device)
    cfg = model.pretrained_cfg
    size = int(cfg.input_size[-1])
    tf = imagenet_eval_transforms(size, round(size / 0.875), cfg.mean, cfg.std)
    dataset: Any = dataset_from_args(args, args.split, tf)
    if args.limit is not None:
        dataset = Subset(dataset, list(range(min(args.limit, len(dataset)))))
    sampler = DistributedEvalSampler(dataset) if world > 1 else None
    loader = DataLoader(dataset, args.batch_size, sampler=sampler, num_workers=args.workers)
    metrics = evaluate_classification(
        model, loader, device=device, amp_dtype=_AMP[args.amp], progress=True
    )
    if not dist.is_initialized() or dist.get_rank() == 0:
        print(f"{args.model} on {args.data}/{args.split}: top-1 {100 * metrics['top1']:.2f}  "
              f"top-5 {100 * metrics['top5']:.2f}  ({metrics['num_images']} images)")  # fmt: skip
        if args.results_file:
            result = {"model": args.model, "weights": args.weights, "data": args.data,
                      "root": args.root, "split": args.split, "limit": args.limit, **metrics}  # fmt: skip
            print(f"results written to {write_json_atomic(result, args.results_file)}")
    return 0


def run_val(args: argparse.Namespace) -> int:
    device = _device(args.device)
    rank, world = _init_distributed(device)
    try:
        if args.data == "imagenet":
            return _run_classification(args, device, world)
        return _run_segmentation(args, device, rank, world)
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _run_segmentation(args: argparse.Namespace, device: torch.device, rank: int, world: int) -> int:
    probe = dataset_from_args(args, args.split)
    num_classes = probe.num_classes
    model = build_model(args, num_classes).to(device)
    cfg = model.pretrained_cfg
    dataset = dataset_from_args(args, args.split, eval_transforms(cfg.mean, cfg.std))
    indices = list(range(len(dataset)))
    if args.limit is not None:
        indices = indices[: args.limit]
        dataset_view: Any = Subset(dataset, indices)
    else:
        dataset_view = dataset
    sampler = DistributedEvalSampler(dataset_view) if world > 1 else None
    loader = DataLoader(
        dataset_view,
        batch_size=args.batch_size,
        sampler=sampler,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
    )
    callback = None
    if args.save_preds:
        if world > 1:
            indices = [indices[i] for i in DistributedEvalSampler(dataset_view)]
        callback = _PredictionWriter(Path(args.save_preds), dataset, indices, args.batch_size)
    scales = tuple(float(s) for s in args.scales.split(","))
    metrics = evaluate(
        model, loader, num_classes, device=device, ignore_index=dataset.ignore_index,
        mode=args.mode, crop_size=args.crop_size, stride=args.stride, scales=scales,
        flip=args.flip, align_corners=args.align_corners, amp_dtype=_AMP[args.amp],
        progress=True, callback=callback,
    )  # fmt: skip
    if rank == 0:
        print(f"{args.model} on {args.data}/{args.split} ({args.mode}, scales {scales}, "
              f"flip {args.flip})")  # fmt: skip
        print(format_table(metrics, dataset.classes))
        if args.results_file:
            result = {
                "model": args.model, "weights": args.weights, "data": args.data,
                "root": args.root, "split": args.split, "mode": args.mode,
                "crop_size": args.crop_size, "stride": args.stride, "scales": list(scales),
                "flip": args.flip, "align_corners": args.align_corners, "amp": args.amp,
                "limit": args.limit, "classes": list(dataset.classes), **metrics,
                "per_class_iou": dict(zip(dataset.classes, metrics["iou"])),
            }  # fmt: skip
            print(f"results written to {write_json_atomic(result, args.results_file)}")
    return 0
