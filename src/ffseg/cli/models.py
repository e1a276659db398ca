"""``ffseg list`` and ``ffseg info``: what models exist, their size and cost."""

from __future__ import annotations

import argparse
import json

import torch

from ffseg.deploy.flops import count_macs, count_params
from ffseg.models import create_model, get_model_entry, list_models
from ffseg.models._base import PretrainedCfg

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("list", help="list models with params, GMACs, output stride")
    p.add_argument("filter", nargs="?", default="", help="fnmatch pattern, e.g. 'ffnet*mobile'")
    p.add_argument("--exclude", action="append", default=[], help="pattern to leave out")
    p.add_argument("--names-only", action="store_true", help="print only the names")
    p.set_defaults(func=run_list)

    p = subparsers.add_parser("info", help="full configuration and cost of one model")
    p.add_argument("name", help="model name or official alias")
    p.add_argument(
        "--input-size",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        help="input size for GMACs (default: the model's native size)",
    )
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_info)


def _build_on_meta(name: str, num_classes: int | None = None) -> torch.nn.Module:
    with torch.device("meta"):
        return create_model(name, num_classes=num_classes)


def _published_miou(cfg: PretrainedCfg) -> str:
    value = cfg.published.get("cityscapes_val_miou")
    return f"{value:.1f}" if value is not None else "-"


def run_list(args: argparse.Namespace) -> int:
    names = list_models(args.filter, exclude_filters=args.exclude)
    if not names:
        print(f"no model matches {args.filter!r}")
        return 1
    if args.names_only:
        print("\n".join(names))
        return 0
    header = (
        f"{'model':34s} {'params(M)':>9s} {'GMACs':>8s} {'input':>10s} {'os':>3s} {'mIoU*':>6s}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        model = _build_on_meta(name)
        cfg: PretrainedCfg = model.pretrained_cfg
        hw = cfg.input_size[1:]
        macs = count_macs(model, hw) / 1e9
        stride = str(cfg.output_stride) if cfg.output_stride else "-"
        print(
            f"{name:34s} {count_params(model) / 1e6:9.2f} {macs:8.2f} "
            f"{f'{hw[0]}x{hw[1]}':>10s} {stride:>3s} {_published_miou(cfg):>6s}"
        )
    print(
        f"\n{len(names)} models. GMACs = conv+linear multiply-accumulates at the listed input "
        "size. *mIoU: Cityscapes val as published by the model's authors."
    )
    return 0


def run_info(args: argparse.Namespace) -> int:
    entry = get_model_entry(args.name)
    model = _build_on_meta(entry.name, args.num_classes)
    cfg: PretrainedCfg = model.pretrained_cfg
    hw = tuple(args.input_size) if args.input_size else cfg.input_size[1:]
    macs = count_macs(model, hw)
    info = cfg.to_dict()
    if info.get("classes") and len(info["classes"]) > 30:
        info["classes"] = [*info["classes"][:5], f"... ({len(info['classes'])} classes)"]
    info.update(
        name=entry.name,
        aliases=list(entry.aliases),
        params=count_params(model),
        gmacs=round(macs / 1e9, 3),
        gmacs_input_size=list(hw),
        state_dict_entries=len(model.state_dict()),
    )
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{entry.name}  (aliases: {', '.join(entry.aliases) or '-'})")
    for key, value in info.items():
        if key not in ("name", "aliases"):
            print(f"  {key:20s} {value}")
    print(f"  -> {macs / 1e9:.2f} GMACs at input {hw[0]}x{hw[1]} (batch 1)")
    return 0
