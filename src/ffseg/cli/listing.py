"""``ffseg list``: every model's family, native input, output stride and published mIoU.

Answers from the model index (:mod:`ffseg.model_index`) without importing torch or building a
model; ``ffseg info NAME`` builds one for params and GMACs.
"""

from __future__ import annotations

import argparse
from typing import Any

from ffseg.model_index import filter_names, load_index

__all__ = ["register"]

_COLUMNS = f"{'model':34s} {'family':>10s} {'input':>10s} {'os':>3s} {'classes':>7s} {'mIoU*':>6s} {'weights':>8s}"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "list", help="list models: family, native input, output stride, published mIoU"
    )
    p.add_argument("filter", nargs="?", default="", help="fnmatch pattern, e.g. 'ffnet*mobile'")
    p.add_argument("--exclude", action="append", default=[], help="pattern to leave out")
    p.add_argument("--names-only", action="store_true", help="print only the names")
    p.set_defaults(func=run_list)


def _row(name: str, cfg: dict[str, Any]) -> str:
    _, h, w = cfg["input_size"]
    stride = str(cfg["output_stride"]) if cfg.get("output_stride") else "-"
    miou = cfg.get("published", {}).get("cityscapes_val_miou")
    shown = f"{miou:.1f}" if miou is not None else "-"
    weights = "official" if cfg.get("weight_file") else "-"
    return (
        f"{name:34s} {cfg['family']:>10s} {f'{h}x{w}':>10s} {stride:>3s} "
        f"{cfg['num_classes']:>7d} {shown:>6s} {weights:>8s}"
    )


def run_list(args: argparse.Namespace) -> int:
    """One line per model from the index (builds no model: params/GMACs are in info)."""
    index = load_index()
    names = filter_names(index, args.filter, args.exclude)
    if not names:
        print(f"no model matches {args.filter!r}")
        return 1
    if args.names_only:
        print("\n".join(names))
        return 0
    print(_COLUMNS)
    print("-" * len(_COLUMNS))
    for name in names:
        print(_row(name, index[name]["cfg"]))
    print(
        f"\n{len(names)} models. *mIoU: Cityscapes val as published by the model's authors. "
        "weights: the official release has a weights file (see `ffseg info NAME`, which also "
        "reports params and GMACs)."
    )
    return 0
