"""Per-stage figures of a segmentation network, for comparing it with its authors' graph.

A *stage* is the set of parameterised leaf modules whose output sits at one output stride
(input height / output height); layers on globally pooled (1x1) features form the ``global``
stage. For each stage: its parameters (each module counted once,
BN and PReLU included) and its conv / linear multiply-accumulates (every call counted). The
*shape sequence* lists ``[C, H, W]`` each time the stride of the running leaf-module output
changes, in call order (global-pooled outputs skipped). Run on the ``meta`` device: shapes only, well under a second at
1x3x512x1024.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

import ffseg
from ffseg.deploy.flops import count_params

SIZE = (512, 1024)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def _macs(module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    if isinstance(module, nn.ConvTranspose2d):
        k = math.prod(module.kernel_size)
        return inp.numel() * module.out_channels // module.groups * k
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return out.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
    return 0


def _stride(height: int, size: int) -> int | float:
    ratio = size / height
    return round(ratio) if abs(ratio - round(ratio)) < 1e-6 else round(ratio, 3)


def measure(name: str, size: tuple[int, int] = SIZE, **kwargs: Any) -> dict[str, Any]:
    """``{params, macs, stages: {"s<stride>": {params, macs}}, shapes, output_stride}``."""
    with torch.device("meta"):
        model = ffseg.create_model(name, **kwargs).eval()
    stages: dict[str, dict[str, int]] = {}
    shapes: list[list[int]] = []
    seen: set[int] = set()
    last: list[int | float] = []

    def hook(module: nn.Module, args: tuple, out: Any) -> None:
        if not isinstance(out, torch.Tensor) or out.dim() not in (2, 4) or not args:
            return
        pooled = out.dim() == 2 or out.shape[-2:] == (1, 1)  # global context: no stride
        stride = None if pooled else _stride(out.shape[-2], size[0])
        stage = stages.setdefault("global" if pooled else f"s{stride}", {"params": 0, "macs": 0})
        if id(module) not in seen:
            seen.add(id(module))
            stage["params"] += sum(p.numel() for p in module.parameters(recurse=False))
        stage["macs"] += _macs(module, args[0], out)
        if not pooled and stride not in last:
            last[:] = [stride]
            shapes.append([int(out.shape[1]), int(out.shape[2]), int(out.shape[3])])

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if not list(m.children()) and any(True for _ in m.parameters(recurse=False))
    ]
    with torch.no_grad():
        out = model(torch.empty(1, 3, *size, device="meta"))
    for h in handles:
        h.remove()
    total = count_params(model)
    unassigned = total - sum(s["params"] for s in stages.values())
    if unassigned:
        stages["other"] = {"params": unassigned, "macs": 0}
    return {
        "params": total,
        "macs": sum(s["macs"] for s in stages.values()),
        "stages": dict(sorted(stages.items(), key=lambda kv: _key(kv[0]))),
        "shapes": shapes,
        "output_stride": _stride(out.shape[-2], size[0]),
    }


def _key(stage: str) -> float:
    order = {"global": 1e9, "other": 2e9}
    return float(stage[1:]) if stage.startswith("s") else order[stage]


def logits_nonnegative(name: str, size: tuple[int, int] = (64, 128)) -> bool:
    """Whether the logits of a randomly initialised model are all >= 0 (an activation ends it)."""
    torch.manual_seed(0)
    model = ffseg.create_model(name).eval()
    with torch.no_grad():
        return bool((model(torch.randn(2, 3, *size)) >= 0).all())
