"""BiSeNetV2 (the widely used re-implementation CoinCheung/BiSeNet, ``lib/models/bisenetv2.py``).

The released ``model_final_v2_city.pth`` is a plain state_dict with the four training-time aux
heads. ``detail.S1/S2/S3`` become ``detail`` 0-7, ``segment.S1S2`` the semantic stem,
``segment.S3/S4/S5_4`` the gather-and-expansion stages, ``segment.S5_5`` the context block and
the BGA's ``left1/left2/right1/right2/conv`` become ``detail_keep/detail_down/semantic_up/
semantic_keep/out``. The head is 3x3 conv-BN-ReLU to 1024 channels (build ffseg's model with
``head_channels=1024``) and a 1x1 conv to 19x8x8 channels read out by ``PixelShuffle(8)``: one
classifier per pixel of each 8x8 block. ffseg classifies once per stride-8 cell and upsamples
bilinearly, so the converter averages the 64 sub-pixel classifiers (weights and biases) into one:
an approximation of the authors' output (fine-tune briefly, or expect a lower mIoU). The
authors' aux heads (also PixelShuffle) are dropped; ffseg's training-only aux heads keep their
initialisation.
"""

from __future__ import annotations

from ffseg.models._authors._common import AuthorsConverter, State

__all__ = ["CONVERTER"]

_UP = 8  # the head's PixelShuffle factor
_CB = {"conv": "0", "bn": "1"}
_STAGE = {"S3": "stage3", "S4": "stage4", "S5_4": "stage5"}
_DETAIL_OFFSET = {"S1": 0, "S2": 2, "S3": 5}
_BGA = {
    "left1.0": "detail_keep.0.0",
    "left1.1": "detail_keep.0.1",
    "left1.2": "detail_keep.1",
    "left2.0": "detail_down.0.0",
    "left2.1": "detail_down.0.1",
    "right1.0": "semantic_up.0",
    "right1.1": "semantic_up.1",
    "right2.0": "semantic_keep.0.0",
    "right2.1": "semantic_keep.0.1",
    "right2.2": "semantic_keep.1",
    "conv.0": "out.0",
    "conv.1": "out.1",
}
_SHORTCUT = {"0": "0.0", "1": "0.1", "2": "1.0", "3": "1.1"}


def _prepare(state: State) -> State:
    for param in ("weight", "bias"):
        value = state.pop(f"head.conv_out.0.{param}")
        classes = value.shape[0] // (_UP * _UP)
        state[f"head.cls.{param}"] = value.reshape(classes, _UP * _UP, *value.shape[1:]).mean(1)
    return state


CONVERTER = AuthorsConverter(
    family="bisenetv2",
    models=("bisenetv2",),
    source="CoinCheung/BiSeNet (lib/models/bisenetv2.py)",
    signature=("segment.S1S2.conv.conv.weight", "bga.left1.0.weight", "head.conv_out.0.weight"),
    drop=(r"aux(2|3|4|5_4)\..*",),
    prepare=_prepare,
    absent=("aux_heads.",),
    build="head_channels=1024",
    approximate="the PixelShuffle classifier is averaged into one stride-8 classifier",
    rules=(
        (
            r"detail\.(S[123])\.(\d)\.(conv|bn)\.(\w+)",
            lambda m: f"detail.{_DETAIL_OFFSET[m[1]] + int(m[2])}.{_CB[m[3]]}.{m[4]}",
        ),
        (
            r"segment\.S1S2\.(conv|fuse)\.(conv|bn)\.(\w+)",
            lambda m: f"semantic.stem.{m[1]}.{_CB[m[2]]}.{m[3]}",
        ),
        (
            r"segment\.S1S2\.left\.([01])\.(conv|bn)\.(\w+)",
            lambda m: f"semantic.stem.left.{m[1]}.{_CB[m[2]]}.{m[3]}",
        ),
        (
            r"segment\.(S3|S4|S5_4)\.(\d)\.conv1\.(conv|bn)\.(\w+)",
            lambda m: f"semantic.{_STAGE[m[1]]}.{m[2]}.body.0.{_CB[m[3]]}.{m[4]}",
        ),
        (  # the first block of each stage is the strided GE layer (two depthwise convs)
            r"segment\.(S3|S4|S5_4)\.0\.dwconv([12])\.([01])\.(\w+)",
            lambda m: f"semantic.{_STAGE[m[1]]}.0.body.{m[2]}.{m[3]}.{m[4]}",
        ),
        (
            r"segment\.(S3|S4|S5_4)\.0\.conv2\.([01])\.(\w+)",
            lambda m: f"semantic.{_STAGE[m[1]]}.0.body.3.{m[2]}.{m[3]}",
        ),
        (
            r"segment\.(S3|S4|S5_4)\.0\.shortcut\.([0-3])\.(\w+)",
            lambda m: f"semantic.{_STAGE[m[1]]}.0.shortcut.{_SHORTCUT[m[2]]}.{m[3]}",
        ),
        (
            r"segment\.(S3|S4|S5_4)\.([1-9])\.dwconv\.([01])\.(\w+)",
            lambda m: f"semantic.{_STAGE[m[1]]}.{m[2]}.body.1.{m[3]}.{m[4]}",
        ),
        (
            r"segment\.(S3|S4|S5_4)\.([1-9])\.conv2\.([01])\.(\w+)",
            lambda m: f"semantic.{_STAGE[m[1]]}.{m[2]}.body.2.{m[3]}.{m[4]}",
        ),
        (r"segment\.S5_5\.bn\.(\w+)", r"context.bn.\1"),
        (
            r"segment\.S5_5\.(conv_gap|conv_last)\.(conv|bn)\.(\w+)",
            lambda m: f"context.{'gap_conv' if m[1] == 'conv_gap' else 'out'}.{_CB[m[2]]}.{m[3]}",
        ),
        (r"bga\.(\w+\.\d)\.(\w+)", lambda m: f"bga.{_BGA[m[1]]}.{m[2]}"),
        (r"head\.conv\.(conv|bn)\.(\w+)", lambda m: f"head.conv.{_CB[m[1]]}.{m[2]}"),
        (r"head\.cls\.(\w+)", r"head.cls.\1"),
    ),
)
