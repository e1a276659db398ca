"""``ffseg info``: one model's full configuration, size and cost (``ffseg list`` is in listing)."""

from __future__ import annotations

import argparse
import json

import torch

from ffseg.cli._args import add_input_size_arg, positive_int
from ffseg.deploy.flops import count_macs, count_params
from ffseg.models import create_model, get_model_entry
from ffseg.models._base import PretrainedCfg
from ffseg.models._smp import is_smp_name

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="full configuration and cost of one model")
    p.add_argument("name", help="model name or official alias")
    add_input_size_arg(
        p, "input size for GMACs (default: the model's native size)", size_alias=False
    )
    p.add_argument(
        "--num-classes",
        type=positive_int,
        default=None,
        help="output classes (default: the model's)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_info)


def _build_on_meta(name: str, num_classes: int | None = None) -> torch.nn.Module:
    with torch.device("meta"):
        return create_model(name, num_classes=num_classes)


def run_info(args: argparse.Namespace) -> int:
    if is_smp_name(args.name):  # smp:<Arch>:<encoder>: no registry entry, no aliases
        model = _build_on_meta(args.name, args.num_classes)
        name, aliases = model.pretrained_cfg.architecture, ()
    else:
        entry = get_model_entry(args.name)
        name, aliases = entry.name, entry.aliases
        model = _build_on_meta(entry.name, args.num_classes)
    cfg: PretrainedCfg = model.pretrained_cfg
    hw = tuple(args.input_size) if args.input_size else cfg.input_size[1:]
    macs = count_macs(model, hw)
    info = cfg.to_dict()
    if info.get("classes") and len(info["classes"]) > 30:
        info["classes"] = [*info["classes"][:5], f"... ({len(info['classes'])} classes)"]
    info.update(
        name=name,
        aliases=list(aliases),
        params=count_params(model),
        gmacs=round(macs / 1e9, 3),
        gmacs_input_size=list(hw),
        state_dict_entries=len(model.state_dict()),
        capabilities={
            flag: bool(getattr(model, f"supports_{flag}", False))
            for flag in ("dynamic_shapes", "torchscript", "int8")
        },
    )
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{name}  (aliases: {', '.join(aliases) or '-'})")
    if info.get("palette"):
        info["palette"] = f"{len(info['palette'])} colours (--json lists them)"
    for key, value in info.items():
        if key not in ("name", "aliases"):
            print(f"  {key:20s} {value}")
    print(f"  -> {macs / 1e9:.2f} GMACs at input {hw[0]}x{hw[1]} (batch 1)")
    return 0
