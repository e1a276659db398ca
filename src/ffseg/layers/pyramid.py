"""Context pooling modules shared by the zoo: PSPNet's PPM (ICNet, Fast-SCNN), DDRNet's DAPPM,
SwiftNet's SPP.

All of them keep the input's spatial size and can be exported to ONNX; the ones built on
``AdaptiveAvgPool2d`` to fixed bins > 1 (:class:`PyramidPooling`, :class:`SpatialPyramidPooling`)
need static input shapes in ONNX.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ffseg.layers.conv_bn_act import ConvBNAct
from ffseg.layers.resample import resize_to

__all__ = ["DAPPM", "BNActConv", "PyramidPooling", "SpatialPyramidPooling"]


class BNActConv(nn.Sequential):
    """Pre-activation unit ``BN -> ReLU -> Conv`` (used by DDRNet's DAPPM and heads, SwiftNet)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 1, bias: bool = False) -> None:
        super().__init__(
            nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2, bias=bias),
        )


class DAPPM(nn.Module):
    """Deep Aggregation Pyramid Pooling Module (Hong et al., DDRNet 2021).

    Five branches (identity-resolution 1x1, average pools 5/2, 9/4, 17/8, global) of ``branch``
    channels; every pooled branch is upsampled, added to the previous branch's output and refined
    by a 3x3 conv (hierarchical residual fusion); all five are concatenated, compressed to
    ``cout`` channels and added to a 1x1 shortcut. Units are pre-activation (BN-ReLU-Conv).
    """

    def __init__(self, cin: int, branch: int, cout: int) -> None:
        super().__init__()
        pools: list[nn.Module] = [
            nn.AvgPool2d(kernel_size=k, stride=s, padding=s) for k, s in ((5, 2), (9, 4), (17, 8))
        ]
        pools.append(nn.AdaptiveAvgPool2d(1))
        self.scale0 = BNActConv(cin, branch)
        self.scales = nn.ModuleList(nn.Sequential(p, BNActConv(cin, branch)) for p in pools)
        self.process = nn.ModuleList(BNActConv(branch, branch, 3) for _ in pools)
        self.compression = BNActConv(branch * (len(pools) + 1), cout)
        self.shortcut = BNActConv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        outs = [self.scale0(x)]
        for scale, process in zip(self.scales, self.process):
            outs.append(process(resize_to(scale(x), size, "bilinear_half") + outs[-1]))
        return self.compression(torch.cat(outs, dim=1)) + self.shortcut(x)


class PyramidPooling(nn.Module):
    """Pyramid Pooling Module (Zhao et al., PSPNet 2017), used by ICNet and Fast-SCNN.

    Adaptive average pools to ``bins``, each reduced by a 1x1 conv-BN-ReLU to ``cin / len(bins)``
    channels, upsampled (:func:`~ffseg.layers.resample.resize_to` mode ``resize_mode``) and
    concatenated with the input; a final conv-BN-ReLU maps to ``cout``. With ``reduce=False``
    (ICNet's light variant) pooled maps are summed with the input instead.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        bins: Sequence[int] = (1, 2, 3, 6),
        reduce: bool = True,
        out_kernel: int = 1,
        resize_mode: str = "bilinear",
    ) -> None:
        super().__init__()
        self.reduce = reduce
        self.resize_mode = resize_mode
        mid = cin // len(bins)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), ConvBNAct(cin, mid, 1))
            if reduce
            else nn.AdaptiveAvgPool2d(b)
            for b in bins
        )
        cat = cin + mid * len(bins) if reduce else cin
        self.project = ConvBNAct(cat, cout, out_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pooled = [resize_to(stage(x), size, self.resize_mode) for stage in self.stages]
        if self.reduce:
            return self.project(torch.cat([x, *pooled], dim=1))
        return self.project(x + sum(pooled))


class SpatialPyramidPooling(nn.Module):
    """SwiftNet's spatial pyramid pooling (Oršić et al. 2019).

    The input is reduced to ``mid`` channels (BN-ReLU-Conv 1x1); each of ``grids`` adaptive
    average pools (grids scale with the input aspect ratio) is reduced to ``level`` channels; the
    upsampled levels are concatenated with the reduced input and fused to ``cout`` channels.
    """

    def __init__(
        self,
        cin: int,
        mid: int = 128,
        level: int = 32,
        cout: int = 128,
        grids: Sequence[int] = (8, 4, 2, 1),
        square: bool = False,
    ) -> None:
        super().__init__()
        self.grids = tuple(grids)
        self.square = square
        self.reduce = BNActConv(cin, mid)
        self.levels = nn.ModuleList(BNActConv(mid, level) for _ in self.grids)
        self.fuse = BNActConv(mid + level * len(self.grids), cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        x = self.reduce(x)
        ratio = 1.0 if self.square else float(size[1]) / float(size[0])
        outs = [x]
        for grid, level in zip(self.grids, self.levels):
            bins = (grid, max(1, int(grid * ratio + 0.5)))
            pooled = nn.functional.adaptive_avg_pool2d(x, bins)
            outs.append(resize_to(level(pooled), size, "bilinear_half"))
        return self.fuse(torch.cat(outs, dim=1))
