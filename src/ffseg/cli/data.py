"""``ffseg check-data`` (scan every file of a dataset, report all problems) and ``ffseg
convert-masks`` (colour-coded masks -> class-index masks)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ffseg.classes import get_palette
from ffseg.cli._args import (
    add_data_args,
    dataset_from_args,
    nonneg_int,
    positive_int,
)
from ffseg.data.check import check_dataset
from ffseg.data.convert import convert_mask_folder
from ffseg.data.datasets.folder import read_dataset_yaml
from ffseg.models import get_pretrained_cfg, load_model

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check-data",
        help="scan a dataset: counts, class histogram, bad values, size mismatches",
        description="Read every image and mask, print counts and the class histogram, list "
        "every problem; exit code 1 if there is any.",
    )
    add_data_args(p, required=True)
    p.add_argument(
        "--num-classes", type=positive_int, help="synthetic data: class count (default: 5)"
    )
    p.add_argument("--split", default="train,val", help="comma-separated splits to scan")
    p.add_argument("--workers", type=nonneg_int, default=0, help="DataLoader worker processes")
    p.add_argument(
        "--model", help="also check that this model's class count fits the data (a name)"
    )
    p.add_argument(
        "--weights", help="also check these weights' class count (file, run or saved folder)"
    )
    p.set_defaults(func=run_check_data)
    c = subparsers.add_parser(
        "convert-masks",
        help="convert colour-coded (RGB palette) masks to class-index PNGs",
        description="Map each palette colour to its class index; other colours become 255 "
        "(ignored) and are reported.",
    )
    c.add_argument("--src", required=True, help="folder of colour masks (sub-folders kept)")
    c.add_argument("--out", required=True, help="folder for the index masks")
    c.add_argument(
        "--palette",
        required=True,
        help="cityscapes, camvid, or a dataset YAML with a 'palette' list (one RGB per class)",
    )
    c.add_argument("--suffix", default=".png", help="suffix of the colour masks")
    c.set_defaults(func=run_convert_masks)


def _model_classes(args: argparse.Namespace) -> tuple[str, int] | None:
    """``(what, class count)`` of the model named by --weights / --model, if any."""
    if args.weights:
        return str(args.weights), int(load_model(args.weights, name=args.model).num_classes)
    if args.model:
        return args.model, get_pretrained_cfg(args.model).num_classes
    return None


def run_check_data(args: argparse.Namespace) -> int:
    failed = False
    model = _model_classes(args)
    for split in [s.strip() for s in args.split.split(",") if s.strip()]:
        dataset = dataset_from_args(args, split)
        report = check_dataset(dataset, f"{args.data}/{split}", num_workers=args.workers)
        print(report.format())
        failed |= not report.ok
        if model is not None and model[1] != dataset.num_classes:
            print(
                f"  WARNING: {model[0]} outputs {model[1]} classes but {args.data}/{split} has "
                f"{dataset.num_classes}: train with model.num_classes={dataset.num_classes} "
                "(a new head), or use weights trained on this class list"
            )
    print("FAILED: problems found; fix the problems above" if failed else "OK")
    return 1 if failed else 0


def _palette(spec: str) -> list[list[int]]:
    if spec.endswith((".yaml", ".yml")):
        palette = read_dataset_yaml(spec).get("palette")
        if not palette:
            raise ValueError(f"{spec!r} has no 'palette' list (one [r, g, b] per class)")
        return palette
    if Path(spec).exists():
        raise ValueError(f"--palette {spec!r}: a palette file must be a .yaml dataset YAML")
    return [list(rgb) for rgb in get_palette(spec)]


def run_convert_masks(args: argparse.Namespace) -> int:
    report = convert_mask_folder(args.src, args.out, _palette(args.palette), args.suffix)
    print(report.summary(Path(args.out)))
    return 0
