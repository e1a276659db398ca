"""``ffseg list``: every model's family, native input, output stride and published mIoU.

Answers from the model index (:mod:`ffseg.model_index`) without importing torch or building a
model; ``ffseg info NAME`` builds one for params and GMACs. ``--design-space`` describes the
FFNet design space instead: every grammatical name, registered or not, builds.
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
    p.add_argument(
        "--design-space",
        action="store_true",
        help="count the FFNet design space's points (any of them builds by name); with a "
        "filter or --names-only, list the matching names",
    )
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
    if args.design_space:
        return _design_space(args)
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


def _design_space(args: argparse.Namespace) -> int:
    """How many FFNet architectures the name grammar spans, and their parts."""
    from ffseg.models.ffnet import design_space

    index = load_index()
    seg, cls = design_space("segmentation"), design_space("classification")
    names = filter_names([p.name for p in seg + cls], args.filter, args.exclude)
    if args.filter or args.names_only:
        print("\n".join(names) if names else f"no design-space name matches {args.filter!r}")
        return 0 if names else 1
    backbones: dict[str, set[int]] = {}
    for point in seg:
        backbones.setdefault(point.family.upper() or "-", set()).add(point.depth)
    registered = sum(p.name in index for p in seg + cls)
    print(f"FFNet design space: {len(seg)} segmentation + {len(cls)} classification points")
    print("  ffnet<depth><family>_<d?><stem><up-head><head>[_mobile][_pre_down]")
    for family, depths in sorted(backbones.items()):
        label = {
            "-": "ResNet (stem A)",
            "S": "slim (stem B)",
            "N": "narrow (stem C)",
            "NS": "narrow+slim (stem C)",
        }
        shown = label.get(family, f"{family} (stem C)")
        print(f"  family {shown:18s} depths {', '.join(map(str, sorted(depths)))}")
    print("  d: strided first stage (stems A/B); up-head A/B/C; head A/B/C (X: ImageNet)")
    print("  _mobile: nearest upsampling; _pre_down: input smoothed and subsampled by 2")
    print(
        f"{registered} of them are registered (the official release); every other name builds "
        "too, e.g. ffseg.create_model('ffnet30s_dbcb_mobile'). List names: "
        "ffseg list --design-space 'ffnet30s_*'"
    )
    return 0
