"""HRNetV2 (HRNet/HRNet-Semantic-Segmentation, ``lib/models/seg_hrnet.py``).

The released files (e.g. ``hrnet_w48_cityscapes_cls19_1024x2048_trainset.pth``) are the training
wrapper's state_dict: the network under ``model.`` plus the loss's class weights under ``loss.``
(dropped). The stem's ``conv1/bn1/conv2/bn2`` become ``encoder.stem``; ``transitionN`` and
``stageN`` become ``encoder.transitions[N-1]`` / ``encoder.stages[N-2]``; a multi-step downward
fusion (a Sequential of conv-BN(-ReLU) Sequentials) becomes one flat ``StridedConvChain``; the
head's first 1x1 conv has a bias, folded exactly into its BatchNorm's running mean.
"""

from __future__ import annotations

import re

from ffseg.models._authors._common import AuthorsConverter, State, fold_bias_into_bn

__all__ = ["CONVERTER"]


def _prepare(state: State) -> State:
    fold_bias_into_bn(state, "last_layer.0", "last_layer.1")
    return state


def _stage(m: re.Match[str]) -> str:
    return f"encoder.stages.{int(m[1]) - 2}.{m[2]}"


CONVERTER = AuthorsConverter(
    family="hrnet",
    models=("hrnetv2_w18", "hrnetv2_w32", "hrnetv2_w48"),
    source="HRNet/HRNet-Semantic-Segmentation (lib/models/seg_hrnet.py)",
    signature=("transition1.0.0.weight", "last_layer.3.weight"),
    prefix="model.",
    drop=(r"loss\..*",),
    prepare=_prepare,
    rules=(
        (r"conv([12])\.(\w+)", lambda m: f"encoder.stem.{int(m[1]) - 1}.0.{m[2]}"),
        (r"bn([12])\.(\w+)", lambda m: f"encoder.stem.{int(m[1]) - 1}.1.{m[2]}"),
        (r"layer1\.(.+)", r"encoder.layer1.\1"),
        (r"transition1\.0\.([01])\.(\w+)", r"encoder.transitions.0.0.\1.\2"),
        (r"transition1\.1\.0\.([01])\.(\w+)", r"encoder.transitions.0.1.\1.\2"),
        (
            r"transition([23])\.\d\.0\.([01])\.(\w+)",
            lambda m: f"encoder.transitions.{int(m[1]) - 1}.0.{m[2]}.{m[3]}",
        ),
        (r"stage([234])\.(\d+)\.branches\.(.+)", lambda m: f"{_stage(m)}.branches.{m[3]}"),
        (  # coarser -> finer: Sequential(conv 1x1, BN)
            r"stage([234])\.(\d+)\.fuse_layers\.(\d)\.(\d)\.([01])\.(\w+)",
            lambda m: f"{_stage(m)}.fuse.{m[3]}.{m[4]}.{m[5]}.{m[6]}",
        ),
        (  # finer -> coarser: step k of Sequential(conv, BN[, ReLU]) -> flat chain index 3k + i
            r"stage([234])\.(\d+)\.fuse_layers\.(\d)\.(\d)\.(\d)\.([01])\.(\w+)",
            lambda m: f"{_stage(m)}.fuse.{m[3]}.{m[4]}.{3 * int(m[5]) + int(m[6])}.{m[7]}",
        ),
        (r"last_layer\.([01])\.(\w+)", r"head.conv.\1.\2"),
        (r"last_layer\.3\.(\w+)", r"head.cls.\1"),
    ),
)
