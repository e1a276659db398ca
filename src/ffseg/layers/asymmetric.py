"""Factorised ("asymmetric") convolutions: a ``k x 1`` conv followed by a ``1 x k`` conv.

Replacing a ``k x k`` conv by the pair keeps the receptive field at ``2k / k^2`` of the weights.
Compact segmentation networks (ENet, ERFNet, ESNet, LEDNet, DABNet, EDANet, FDDWNet, ...)
differ only in what sits between and after the two convs, so :class:`FactorizedConv` exposes
exactly that: ``mid`` picks what follows the first conv (nothing, an activation, BN, or BN +
activation) and ``norm`` / ``act`` what follows the second. ``groups=cin`` gives the depthwise
variant, ``dilation`` dilates both convs along their long axis, ``horizontal_first`` swaps them.

Children (``state_dict`` keys): ``conv_v`` (``k x 1``), ``bn_v`` / ``act_v`` (per ``mid``),
``conv_h`` (``1 x k``), ``bn`` (when ``norm``), ``act`` (when ``act`` is not None).

:class:`PoolConcatDown` is the downsampler these networks share (ENet's initial block, ERFNet's
downsampler block): a strided ``3 x 3`` conv to ``cout - cin`` channels concatenated with a
``2 x 2`` max pool of the input, then BN and activation. :func:`factorized_body` and
:class:`FactorizedResidual` are ERFNet's "non-bottleneck-1D" (two factorised pairs, the second
dilated, inside a residual), which ESNet (with 5x5 kernels) and LEDNet (per branch) reuse.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

__all__ = ["FactorizedConv", "FactorizedResidual", "MidNorm", "PoolConcatDown", "factorized_body"]

Act = Callable[[], nn.Module] | None
MidNorm = Literal["none", "act", "bn", "bn_act"]


class FactorizedConv(nn.Sequential):
    """``k x 1`` conv -> [``mid``] -> ``1 x k`` conv -> [BN] -> [activation] (or ``1 x k`` first).

    Args:
        cin: input channels.
        cout: output channels (default ``cin``); the vertical conv maps ``cin -> cout``.
        kernel_size: ``k``, odd.
        stride: applied by both convs along their long axis (1 or 2).
        dilation: dilation of both convs along their long axis ("same" padding is kept).
        groups: conv groups; ``groups == cin`` makes both convs depthwise.
        bias: whether both convs carry a bias (ERFNet/EDANet do; most others do not);
            ``"second"``: only the second conv does (ENet's asymmetric pair).
        mid: what follows the vertical conv: ``"none"``, ``"act"`` (activation only), ``"bn"``
            (BN only) or ``"bn_act"`` (BN then activation). The mid activation is built with ``act``, or
            ``nn.ReLU`` when ``act`` is None.
        norm: whether a BN follows the horizontal conv.
        act: activation factory after the (optional) BN; None for a linear output.
        horizontal_first: run the ``1 x k`` conv first (it then maps ``cin -> cout`` and the
            ``mid`` children are ``bn_h`` / ``act_h``; LEDNet's second branch).
    """

    def __init__(
        self,
        cin: int,
        cout: int | None = None,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        bias: bool | Literal["second"] = False,
        mid: MidNorm = "none",
        norm: bool = True,
        act: Act = nn.ReLU,
        horizontal_first: bool = False,
    ) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"FactorizedConv kernel_size must be odd, got {kernel_size}")
        if bias not in (True, False, "second"):
            raise ValueError(f"FactorizedConv bias must be True, False or 'second', got {bias!r}")
        if mid not in ("none", "act", "bn", "bn_act"):
            raise ValueError(
                f"FactorizedConv mid must be 'none', 'act', 'bn' or 'bn_act', got {mid!r}"
            )
        cout = cout or cin
        pad = dilation * (kernel_size - 1) // 2
        mid_act = act or nn.ReLU
        first, second = ("h", "v") if horizontal_first else ("v", "h")

        def conv(axis: str, c_in: int, conv_groups: int, with_bias: bool) -> nn.Conv2d:
            k, st, p, d = (kernel_size, 1), (stride, 1), (pad, 0), (dilation, 1)
            if axis == "h":
                k, st, p, d = k[::-1], st[::-1], p[::-1], d[::-1]
            return nn.Conv2d(c_in, cout, k, st, p, d, groups=conv_groups, bias=with_bias)

        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers[f"conv_{first}"] = conv(first, cin, groups, bias is True)
        if mid in ("bn", "bn_act"):
            layers[f"bn_{first}"] = nn.BatchNorm2d(cout)
        if mid in ("act", "bn_act"):
            layers[f"act_{first}"] = mid_act()
        second_groups = cout if groups == cin > 1 else groups
        layers[f"conv_{second}"] = conv(second, cout, second_groups, bool(bias))
        if norm:
            layers["bn"] = nn.BatchNorm2d(cout)
        if act is not None:
            layers["act"] = act()
        super().__init__(layers)
        self.out_channels = cout


class PoolConcatDown(nn.Module):
    """Halve the resolution: ``[conv3x3/2(x) (cout - cin ch), maxpool2x2(x)]`` -> BN -> act.

    When ``cout <= cin`` there is nothing to concatenate and the block is a strided ``3 x 3``
    conv to ``cout`` -> BN -> act (EDANet's rule). ``act`` None gives a linear output. Children:
    ``conv``, ``pool`` (only when concatenating), ``bn``, ``act``.
    """

    def __init__(self, cin: int, cout: int, bias: bool = False, act: Act = nn.ReLU) -> None:
        super().__init__()
        self.concat = cout > cin
        self.conv = nn.Conv2d(cin, cout - cin if self.concat else cout, 3, 2, 1, bias=bias)
        if self.concat:
            self.pool = nn.MaxPool2d(2, 2)
        self.bn = nn.BatchNorm2d(cout)
        self.act = act() if act is not None else nn.Identity()
        self.out_channels = cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.concat:
            out = torch.cat([out, self.pool(x)], 1)
        return self.act(self.bn(out))


def factorized_body(
    channels: int,
    kernel_size: int = 3,
    dilation: int = 1,
    bias: bool = True,
    horizontal_first: bool = False,
) -> nn.Sequential:
    """Two factorised pairs, ``kx1 -> ReLU -> 1xk -> BN -> ReLU`` then the same with
    ``dilation`` and no final activation (children ``0`` and ``1``); ``horizontal_first``
    swaps the order inside both pairs."""
    common = dict(kernel_size=kernel_size, bias=bias, mid="act", horizontal_first=horizontal_first)
    return nn.Sequential(
        FactorizedConv(channels, **common),
        FactorizedConv(channels, dilation=dilation, act=None, **common),
    )


class FactorizedResidual(nn.Module):
    """``ReLU(x + dropout(factorized_body(x)))``: ERFNet's non-bottleneck-1D block.

    ``dropout`` is spatial (``Dropout2d``); 0 leaves it out. Children: ``body``, ``drop``.
    """

    def __init__(
        self, channels: int, kernel_size: int = 3, dilation: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.body = factorized_body(channels, kernel_size, dilation)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.act = nn.ReLU(inplace=True)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.drop(self.body(x)))
