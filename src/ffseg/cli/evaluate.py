"""``ffseg val``: mIoU and per-class IoU of a model on a dataset split, optional predictions."""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from typing import Any

from torch import nn
from torch.utils.data import DataLoader, Subset

from ffseg._io import atomic_write_json
from ffseg.cli._args import (
    add_alias,
    add_batch_size_arg,
    add_data_args,
    add_device_args,
    add_inference_args,
    add_model_args,
    add_num_images_arg,
    add_precision_arg,
    dataset_from_args,
    nonneg_int,
    positive_int,
    refuse_inside,
    scales_from_args,
)
from ffseg.data import eval_transforms
from ffseg.data.samplers import DistributedEvalSampler
from ffseg.data.transforms import imagenet_eval_transforms
from ffseg.deploy.artifacts import is_exported, load_artifact
from ffseg.deploy.model_info import model_name
from ffseg.deploy.runtime import torch_threads
from ffseg.engine.distributed import DistInfo, cleanup_distributed, init_distributed
from ffseg.engine.evaluate import InferenceSpec, evaluate, evaluate_classification
from ffseg.engine.precision import resolve_precision
from ffseg.inference.predictions import PredictionWriter
from ffseg.inference.run_data import run_data
from ffseg.metrics import format_table
from ffseg.models import load_model
from ffseg.models._factory import model_folder

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "val",
        help="evaluate a model: mIoU, per-class IoU, aAcc (whole / slide, multi-scale, flip)",
        description="Evaluate a segmentation model on a dataset split; logits are resized "
        "bilinearly to the label size before argmax.",
    )
    add_model_args(p)
    p.add_argument("--ema", action="store_true", help="use the EMA weights of a checkpoint")
    add_data_args(p, purpose="evaluation (default: a run folder's own validation data)")
    p.add_argument("--split", help="dataset split (default: val, or the run's validation split)")
    add_inference_args(
        p,
        "network input size: images are resized to it (--mode whole) or it is the window "
        "(--mode slide); default: the model's native size. Labels are scored as stored",
    )
    add_alias(p, "--crop-size", dest="input_size", nargs=2, type=positive_int)
    p.add_argument("--align-corners", action="store_true", help="bilinear align_corners=True")
    add_batch_size_arg(p, 1)
    p.add_argument("--workers", type=nonneg_int, default=0, help="DataLoader worker processes")
    add_device_args(p)
    add_precision_arg(p)
    add_alias(p, "--amp", dest="precision", choices=("none", "bf16", "fp16"))
    add_num_images_arg(p, None, "evaluate only the first N images (default: all)", "--limit")
    p.add_argument("--save-preds", metavar="DIR", help="write prediction PNGs (default: none)")
    p.add_argument("--results-file", metavar="FILE", help="write results JSON (default: none)")
    p.set_defaults(func=run_val)


def use_run_data(args: argparse.Namespace) -> bool:
    """Without ``--data``: adopt the data of the training run ``--weights`` comes from (said
    in one line); False when there is none."""
    run = None if args.data else run_data(args.weights)
    if run is None:
        return False
    args.run_data = run
    args.data, args.data_root = run.data.name, run.data.root
    print(run.describe(getattr(args, "split", None)))
    return True


def _adopt_data(args: argparse.Namespace) -> None:
    if use_run_data(args):
        run = args.run_data
        args.split = run.split(args.split)
        if args.num_images is None and args.split == run.data.val_split:
            args.num_images = run.data.val_subset  # what training evaluated on
    elif not args.data:
        raise ValueError(
            "pass --data NAME (and --data-root DIR), or --weights with a training run folder "
            "(its config.yaml names the data it was validated on)"
        )
    args.split = args.split or "val"


def run_val(args: argparse.Namespace) -> int:
    _adopt_data(args)
    if args.save_preds and args.data_root:
        refuse_inside("--save-preds", args.save_preds, "--data-root", args.data_root)
    dist_info = init_distributed(args.device)
    try:
        with torch_threads(args.threads):
            if args.data == "imagenet":
                return _run_classification(args, dist_info)
            return _run_segmentation(args, dist_info)
    finally:
        cleanup_distributed()


def _eval_model(args: argparse.Namespace, dataset: Any) -> nn.Module:
    """The model for ``dataset``: the checkpoint's class count (read from it), which must be
    the data's (a re-initialised head would give a meaningless score)."""
    if args.weights is None:
        model = load_model(None, name=args.model, num_classes=dataset.num_classes)
        log.warning("no --weights given: evaluating randomly initialised %s", args.model)
        return model
    if is_exported(args.weights):  # ONNX, OpenVINO, .pt2, TorchScript: run on the CPU
        model = load_artifact(args.weights, num_classes=args.num_classes, threads=args.threads)
    else:
        model = load_model(
            args.weights, name=args.model, num_classes=args.num_classes, use_ema=args.ema
        )
    _check_class_names(args, model, dataset)
    if model.num_classes != dataset.num_classes:
        raise ValueError(
            f"{str(args.weights)!r} holds a {model.num_classes}-class model but "
            f"--data {args.data} --split {args.split} has {dataset.num_classes} classes; "
            f"evaluate on data with {model.num_classes} classes (folder data: --classes with "
            f"{model.num_classes} names; synthetic: --num-classes {model.num_classes}) "
            "or pass weights trained on this dataset"
        )
    return model


def _check_class_names(args: argparse.Namespace, model: nn.Module, dataset: Any) -> None:
    """Refuse data whose class names differ from those the weights record (a reordered list
    would be scored as if it matched)."""
    recorded = model.pretrained_cfg.classes if model_folder(args.weights) else None
    names = tuple(getattr(dataset, "classes", ()) or ())
    if recorded and names and len(recorded) == len(names) and tuple(recorded) != names:
        raise ValueError(
            f"{str(args.weights)!r} was trained on classes {', '.join(recorded)} but "
            f"--data {args.data} --split {args.split} has {', '.join(names)}; pass the classes "
            f"in the model's order (--classes {','.join(recorded)}) or weights trained on this "
            "data"
        )


def _loader(
    args: argparse.Namespace, dataset: Any, dist_info: DistInfo
) -> tuple[DataLoader, list[int]]:
    """The loader over the first ``--num-images`` samples (this rank's share) and their
    dataset indices in loader order."""
    indices = list(range(len(dataset)))[: args.num_images]
    view = Subset(dataset, indices) if args.num_images is not None else dataset
    sampler = DistributedEvalSampler(view) if dist_info.distributed else None
    if sampler is not None:
        indices = [indices[i] for i in sampler]
    loader = DataLoader(
        view,
        batch_size=args.batch_size,
        sampler=sampler,
        num_workers=args.workers,
        pin_memory=dist_info.device.type == "cuda",
    )
    return loader, indices


def _write_results(
    args: argparse.Namespace, model: nn.Module, metrics: dict[str, Any], **extra: Any
) -> None:
    if args.results_file:
        name = model_name(model)
        run = dict(model=name, weights=args.weights, data=args.data, root=args.data_root)
        run.update(split=args.split, limit=args.num_images, precision=args.precision)
        path = atomic_write_json(args.results_file, run | extra | metrics)
        print(f"results written to {path}")


def _run_classification(args: argparse.Namespace, dist_info: DistInfo) -> int:
    """``--data imagenet``: top-1 / top-5 of a classification model (per-sample counts)."""
    model = _eval_model(args, dataset_from_args(args, args.split))
    cfg = model.pretrained_cfg
    size = int(args.input_size[-1]) if args.input_size else int(cfg.input_size[-1])
    tf = imagenet_eval_transforms(size, round(size / cfg.crop_pct), cfg.mean, cfg.std)
    loader, _ = _loader(args, dataset_from_args(args, args.split, tf), dist_info)
    precision = resolve_precision(args.precision, dist_info.device, what="--precision")
    metrics = evaluate_classification(
        model.to(dist_info.device),
        loader,
        device=dist_info.device,
        amp_dtype=precision.autocast_dtype,
        progress=True,
    )
    if dist_info.is_main:
        top1, top5 = 100 * metrics["top1"], 100 * metrics["top5"]
        print(
            f"{model_name(model)} on {args.data}/{args.split}: top-1 {top1:.2f}  top-5 {top5:.2f}  "
            f"({metrics['num_images']} images)"
        )
        _write_results(args, model, metrics)
    return 0


def _run_segmentation(args: argparse.Namespace, dist_info: DistInfo) -> int:
    model = _eval_model(args, dataset_from_args(args, args.split))
    cfg = model.pretrained_cfg
    dataset = dataset_from_args(args, args.split, eval_transforms(cfg.mean, cfg.std))
    spec = InferenceSpec.for_model(
        model,
        args.input_size,
        args.mode,
        stride=args.stride,
        scales=scales_from_args(args),
        flip=args.flip,
        align_corners=args.align_corners,
    )
    loader, indices = _loader(args, dataset, dist_info)
    writer = None
    if args.save_preds:
        writer = PredictionWriter(args.save_preds, dataset, indices, args.batch_size)
    precision = resolve_precision(args.precision, dist_info.device, what="--precision")
    metrics = evaluate(
        model.to(dist_info.device),
        loader,
        dataset.num_classes,
        device=dist_info.device,
        ignore_index=dataset.ignore_index,
        spec=spec,
        amp_dtype=precision.autocast_dtype,
        progress=True,
        callback=writer,
    )
    if dist_info.is_main:
        print(f"{model_name(model)} on {args.data}/{args.split} ({spec})")
        print(format_table(metrics, dataset.classes))
        per_class = dict(zip(dataset.classes, metrics["iou"]))
        extra = dict(classes=list(dataset.classes), per_class_iou=per_class)
        _write_results(args, model, metrics, **asdict(spec), **extra)
    return 0
