"""Fast-SCNN (the widely used re-implementation Tramac/Fast-SCNN-pytorch, ``models/fast_scnn.py``).

The released ``fast_scnn_citys.pth`` is a plain state_dict of ``FastSCNN(19, aux=False)``.
``learning_to_downsample`` becomes ``encoder.downsample`` (``_ConvBNReLU`` / ``_DSConv``
Sequentials: indices 0, 1 / 0, 1, 3, 4 become conv-BN pairs), the nine ``bottleneckN.i`` blocks
become ``encoder.bottlenecks`` 0-8, the pyramid pooling ``convN``/``out`` become
``encoder.ppm.stages[N-1]``/``project``, the fusion's ``dwconv``/``conv_lower_res`` become
``fuse_low`` and ``conv_higher_res`` ``fuse_high``; their 1x1 convs have biases, folded exactly
into the following BatchNorms. An ``auxlayer`` (files trained with ``aux=True``) becomes the
``aux_ltd`` head; the heads the release lacks are training-only and keep their initialisation.
"""

from __future__ import annotations

import re

from ffseg.models._authors._common import AuthorsConverter, State, fold_bias_into_bn

__all__ = ["CONVERTER"]

_DS = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1"}  # _DSConv index -> (dw|pw).(conv|bn)


def _prepare(state: State) -> State:
    for name in ("conv_lower_res", "conv_higher_res"):
        fold_bias_into_bn(state, f"feature_fusion.{name}.0", f"feature_fusion.{name}.1")
    return state


def _bottleneck(m: re.Match[str]) -> str:
    return f"encoder.bottlenecks.{3 * (int(m[1]) - 1) + int(m[2])}.conv"


CONVERTER = AuthorsConverter(
    family="fastscnn",
    models=("fastscnn",),
    source="Tramac/Fast-SCNN-pytorch (models/fast_scnn.py)",
    signature=("learning_to_downsample.conv.conv.0.weight", "classifier.conv.1.weight"),
    prepare=_prepare,
    absent=("aux_heads.",),
    rules=(
        (r"learning_to_downsample\.conv\.conv\.([01])\.(\w+)", r"encoder.downsample.0.\1.\2"),
        (
            r"learning_to_downsample\.dsconv([12])\.conv\.([0134])\.(\w+)",
            lambda m: f"encoder.downsample.{m[1]}.{_DS[m[2]]}.{m[3]}",
        ),
        (
            r"global_feature_extractor\.bottleneck([123])\.(\d)\.block\.([01])\.conv\.([01])\.(\w+)",
            lambda m: f"{_bottleneck(m)}.{m[3]}.{m[4]}.{m[5]}",
        ),
        (
            r"global_feature_extractor\.bottleneck([123])\.(\d)\.block\.([23])\.(\w+)",
            lambda m: f"{_bottleneck(m)}.{m[3]}.{m[4]}",
        ),
        (
            r"global_feature_extractor\.ppm\.conv([1-4])\.conv\.([01])\.(\w+)",
            lambda m: f"encoder.ppm.stages.{int(m[1]) - 1}.1.{m[2]}.{m[3]}",
        ),
        (r"global_feature_extractor\.ppm\.out\.conv\.([01])\.(\w+)", r"encoder.ppm.project.\1.\2"),
        (r"feature_fusion\.dwconv\.conv\.([01])\.(\w+)", r"fuse_low.0.\1.\2"),
        (r"feature_fusion\.conv_lower_res\.([01])\.(\w+)", r"fuse_low.1.\1.\2"),
        (r"feature_fusion\.conv_higher_res\.([01])\.(\w+)", r"fuse_high.\1.\2"),
        (
            r"classifier\.dsconv([12])\.conv\.([0134])\.(\w+)",
            lambda m: f"classifier.{int(m[1]) - 1}.{_DS[m[2]]}.{m[3]}",
        ),
        (r"classifier\.conv\.1\.(\w+)", r"cls.\1"),
        (r"auxlayer\.([01])\.(\w+)", r"aux_heads.aux_ltd.conv.\1.\2"),
        (r"auxlayer\.4\.(\w+)", r"aux_heads.aux_ltd.cls.\1"),
    ),
)
