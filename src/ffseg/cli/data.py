"""``ffseg check-data``: scan every file of a dataset and report all problems."""

from __future__ import annotations

import argparse
from typing import Any

from ffseg.data import DATASETS, build_dataset
from ffseg.data.check import check_dataset

__all__ = ["add_dataset_args", "dataset_from_args", "register"]


def add_dataset_args(p: argparse.ArgumentParser) -> None:
    """The options that select a dataset (shared by ``check-data`` and ``val``)."""
    p.add_argument("--data", required=True, choices=sorted(DATASETS), help="dataset type")
    p.add_argument("--root", default=None, help="dataset folder (not needed for synthetic)")
    p.add_argument(
        "--cityscapes-mode", default="fine", choices=("fine", "coarse"), help="gtFine or gtCoarse"
    )
    p.add_argument("--classes", default=None, help="folder data: comma-separated class names")
    p.add_argument("--img-suffix", default=".jpg", help="folder data: image file suffix")
    p.add_argument("--ann-suffix", default=".png", help="folder data: mask file suffix")
    p.add_argument(
        "--reduce-zero-label", action="store_true", help="folder data: 0 -> ignore, v -> v-1"
    )
    p.add_argument("--num-classes", type=int, default=None, help="synthetic data: class count")


def dataset_from_args(args: argparse.Namespace, split: str, transforms: Any = None) -> Any:
    kw: dict[str, Any] = {}
    if args.data == "cityscapes":
        kw["mode"] = args.cityscapes_mode
    elif args.data == "folder":
        if not args.classes:
            raise ValueError("--data folder needs --classes name0,name1,... (one per index)")
        kw.update(
            classes=[c.strip() for c in args.classes.split(",")],
            img_suffix=args.img_suffix,
            ann_suffix=args.ann_suffix,
            reduce_zero_label=args.reduce_zero_label,
        )
    elif args.data == "synthetic":
        kw["seed"] = {"train": 0, "val": 1}.get(split, 2)
        if args.num_classes:
            kw["num_classes"] = args.num_classes
    return build_dataset(args.data, args.root, split, transforms=transforms, **kw)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check-data",
        help="scan a dataset: counts, class histogram, bad values, size mismatches",
        description="Read every image and mask, print counts and the class histogram, list "
        "every problem; exit code 1 if there is any.",
    )
    add_dataset_args(p)
    p.add_argument("--split", default="train,val", help="comma-separated splits to scan")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.set_defaults(func=run_check_data)


def run_check_data(args: argparse.Namespace) -> int:
    failed = False
    for split in [s.strip() for s in args.split.split(",") if s.strip()]:
        dataset = dataset_from_args(args, split)
        report = check_dataset(dataset, f"{args.data}/{split}", num_workers=args.workers)
        print(report.format())
        failed |= not report.ok
    print("FAILED: fix the problems above" if failed else "OK")
    return 1 if failed else 0
