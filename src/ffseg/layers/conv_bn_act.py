"""Convolution -> BatchNorm -> activation, the most common block in segmentation networks,
and its transposed ("full") counterpart that upsamples by an exact factor."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["ConvBNAct", "FullConvBNAct", "conv1x1", "conv3x3", "full_conv"]


def conv3x3(cin: int, cout: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """3x3 convolution with padding 1."""
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=bias)


def conv1x1(cin: int, cout: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """1x1 convolution."""
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=bias)


def full_conv(
    cin: int, cout: int, kernel_size: int = 3, stride: int = 2, bias: bool = False
) -> nn.ConvTranspose2d:
    """Transposed ("full") convolution whose output is exactly ``stride`` times the input size."""
    padding = (kernel_size - 1) // 2
    extra = stride + 2 * padding - kernel_size  # output_padding so that out = stride * in
    return nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, extra, bias=bias)


class ConvBNAct(nn.Sequential):
    """``Conv2d`` (no bias, "same" padding) -> ``BatchNorm2d`` -> activation.

    Children are indexed 0 (conv), 1 (BN) and 2 (activation, omitted when ``act`` is None).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        bias: bool = False,
        act: Callable[[], nn.Module] | None = nn.ReLU,
    ) -> None:
        padding = dilation * (kernel_size - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel_size, stride, padding, dilation, groups, bias=bias),
            nn.BatchNorm2d(cout),
        ]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class FullConvBNAct(nn.Sequential):
    """3x3 :func:`full_conv` (x``stride``) -> ``BatchNorm2d`` -> activation (children 0, 1, 2)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int = 2,
        act: Callable[[], nn.Module] = nn.ReLU,
        bias: bool = False,
    ) -> None:
        super().__init__(full_conv(cin, cout, 3, stride, bias=bias), nn.BatchNorm2d(cout), act())
