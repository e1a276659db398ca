"""Small building blocks shared by model families."""

from ffseg.layers.conv_bn_act import ConvBNAct, FullConvBNAct, conv1x1, conv3x3, full_conv
from ffseg.layers.init import kaiming_init_
from ffseg.layers.resample import resize_to

__all__ = [
    "ConvBNAct",
    "FullConvBNAct",
    "conv1x1",
    "conv3x3",
    "full_conv",
    "kaiming_init_",
    "resize_to",
]
