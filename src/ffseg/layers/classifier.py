"""Re-creating a model's final class-scoring layer for another class count."""

from __future__ import annotations

from torch import nn

__all__ = ["fresh_classifier"]


def fresh_classifier(
    layer: nn.Module, out_channels: int, in_channels: int | None = None
) -> nn.Module:
    """A freshly initialised layer like ``layer`` with ``out_channels`` outputs.

    ``layer`` is an ``nn.Conv2d``, ``nn.ConvTranspose2d`` or ``nn.Linear``; kernel, stride,
    padding (and output padding), dilation, groups and bias are kept, as are the device and dtype.
    ``in_channels`` changes the inputs too (for a classifier fed by class maps, as in SQNet).
    """
    weight = layer.weight
    if isinstance(layer, nn.Linear):
        new: nn.Module = nn.Linear(
            in_channels or layer.in_features, out_channels, layer.bias is not None
        )
    elif isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        args = (in_channels or layer.in_channels, out_channels, layer.kernel_size, layer.stride)
        extra = {"padding": layer.padding, "dilation": layer.dilation, "groups": layer.groups}
        if isinstance(layer, nn.ConvTranspose2d):
            extra["output_padding"] = layer.output_padding
        new = type(layer)(*args, bias=layer.bias is not None, **extra)
    else:
        raise TypeError(
            f"cannot re-create a classifier of type {type(layer).__name__}; "
            "expected Conv2d, ConvTranspose2d or Linear"
        )
    return new.to(weight.device, weight.dtype)
