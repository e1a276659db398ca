"""Weight initialisation policies shared by the model families."""

from __future__ import annotations

from torch import nn

__all__ = ["kaiming_init_"]


def kaiming_init_(module: nn.Module) -> None:
    """He-normal (fan-out, ReLU) convs, BN weight 1 / bias 0, zero conv/linear biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
