"""Batch-norm folding and inference preparation.

Conv -> BN (and Linear -> BN) pairs are found from the autograd graph of one small forward pass,
so any model is covered, whatever its module layout: a pair is folded only when the BN's input is
the output of that conv and nothing else reads that output. The folded conv gets a bias and the
BN is replaced by ``nn.Identity``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights

__all__ = ["FOLD_PROBE_SIZE", "find_conv_bn_pairs", "fold_batchnorm", "prepare_for_inference"]

#: Side of the random image whose forward pass finds conv -> BN pairs (raised to the model's
#: ``min_input_size`` when that is larger).
FOLD_PROBE_SIZE = 64

_CONVS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
_BNS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def _example_input(model: nn.Module) -> torch.Tensor:
    cfg = getattr(model, "pretrained_cfg", None)
    h = w = FOLD_PROBE_SIZE
    if cfg is not None:
        min_h, min_w = getattr(cfg, "min_input_size", (32, 32))
        h, w = max(h, int(min_h)), max(w, int(min_w))
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.randn(1, 3, h, w, device=device, dtype=dtype)


def _walk(roots: list[torch.Tensor]) -> Iterator[tuple[object, object]]:
    """Every (consumer, producer) edge of the autograd graph behind ``roots``."""
    seen: set[int] = set()
    stack = [t.grad_fn for t in roots if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for producer, _ in node.next_functions:
            if producer is not None:
                yield node, producer
                stack.append(producer)


def _flatten(output: object) -> list[torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in _flatten(item)]
    if isinstance(output, dict):
        return [t for item in output.values() for t in _flatten(item)]
    if hasattr(output, "__dataclass_fields__"):
        return _flatten(list(vars(output).values()))
    return []


@torch.no_grad()
def find_conv_bn_pairs(
    model: nn.Module, example_input: torch.Tensor | None = None
) -> list[tuple[str, str]]:
    """Names ``(conv, bn)`` of the foldable pairs, found by one forward pass in eval mode."""
    was_training = model.training
    model.eval()
    x = _example_input(model) if example_input is None else example_input
    outputs: dict[str, list[object]] = {}  # conv/linear name -> grad_fn of each call's output
    inputs: dict[str, list[object]] = {}  # bn name -> grad_fn of each call's input
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (*_CONVS, nn.Linear)):
            handles.append(
                module.register_forward_hook(
                    lambda _m, _i, out, n=name: outputs.setdefault(n, []).append(out.grad_fn)
                )
            )
        elif isinstance(module, _BNS) and module.track_running_stats:
            handles.append(
                module.register_forward_hook(
                    lambda _m, inp, _o, n=name: inputs.setdefault(n, []).append(inp[0].grad_fn)
                )
            )
    try:
        with torch.enable_grad():
            result = model(x.detach().requires_grad_(True))
            consumers: dict[int, int] = {}
            for _consumer, producer in _walk(_flatten(result)):
                consumers[id(producer)] = consumers.get(id(producer), 0) + 1
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    producer_of = {
        id(calls[0]): name for name, calls in outputs.items() if len(calls) == 1 and calls[0]
    }
    pairs = []
    for bn_name, calls in inputs.items():
        if len(calls) != 1 or calls[0] is None:
            continue  # a BN applied twice (shared) or to a graph input: leave it
        conv_name = producer_of.get(id(calls[0]))
        if conv_name is not None and consumers.get(id(calls[0])) == 1:
            pairs.append((conv_name, bn_name))
    return pairs


def _fold_pair(conv: nn.Module, bn: nn.Module) -> None:
    """Fold ``bn`` into ``conv`` in place (computed in float64, stored in the conv's dtype)."""
    dtype = conv.weight.dtype
    mean, var = bn.running_mean.double(), bn.running_var.double()
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(mean)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(mean)
    bias = conv.bias.double() if conv.bias is not None else None
    if isinstance(conv, nn.Linear):
        weight, new_bias = fuse_linear_bn_weights(
            conv.weight.double(),
            bias if bias is not None else torch.zeros_like(mean),
            mean,
            var,
            bn.eps,
            gamma,
            beta,
        )
    else:
        transpose = isinstance(conv, nn.modules.conv._ConvTransposeNd)
        weight, new_bias = fuse_conv_bn_weights(
            conv.weight.double(), bias, mean, var, bn.eps, gamma, beta, transpose=transpose
        )
    conv.weight = nn.Parameter(weight.detach().to(dtype), conv.weight.requires_grad)
    conv.bias = nn.Parameter(new_bias.detach().to(dtype), conv.weight.requires_grad)


def fold_batchnorm(model: nn.Module, example_input: torch.Tensor | None = None) -> int:
    """Fold every foldable BN into its preceding conv/linear, in place; returns the count.

    ``example_input`` (default: a random :data:`FOLD_PROBE_SIZE` square image, or the model's
    ``pretrained_cfg.min_input_size``) is used once to trace which layer feeds which.
    Models on the ``meta`` device are left unchanged.
    """
    param = next(model.parameters(), None)
    if param is not None and param.is_meta:
        return 0
    pairs = find_conv_bn_pairs(model, example_input)
    for conv_name, bn_name in pairs:
        _fold_pair(model.get_submodule(conv_name), model.get_submodule(bn_name))
        parent_name, _, attr = bn_name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, nn.Identity())
    return len(pairs)


def prepare_for_inference(
    model: nn.Module,
    *,
    fold_bn: bool = True,
    channels_last: bool = False,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    inplace: bool = False,
    example_input: torch.Tensor | None = None,
) -> nn.Module:
    """An eval-mode, gradient-free model ready for deployment.

    Folds batch norms (``fold_bn``), then optionally moves to ``device``, casts floating-point
    weights to ``dtype`` (e.g. ``torch.bfloat16``) and uses ``channels_last`` memory format.
    Works on a deep copy unless ``inplace`` is true.
    """
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    if fold_bn:
        fold_batchnorm(model, example_input)
    for p in model.parameters():
        p.requires_grad_(False)
    if device is not None:
        model.to(device)
    if dtype is not None:
        model.to(dtype)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model
