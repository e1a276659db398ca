"""``ffseg check-data``: scan every file of a dataset and report all problems."""

from __future__ import annotations

import argparse

from ffseg.cli._args import add_data_args, dataset_from_args
from ffseg.data.check import check_dataset

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check-data",
        help="scan a dataset: counts, class histogram, bad values, size mismatches",
        description="Read every image and mask, print counts and the class histogram, list "
        "every problem; exit code 1 if there is any.",
    )
    add_data_args(p, required=True)
    p.add_argument("--num-classes", type=int, help="synthetic data: class count (default: 5)")
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
