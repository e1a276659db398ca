"""DDRNet-23-slim / 23 / 39 (ydhongHIT/DDRNet, ``segmentation/DDRNet_{23_slim,23,39}.py``).

The Cityscapes models were trained in the HRNet codebase, whose wrapper saves the net under
``model.`` (stripped; ``loss.`` buffers dropped). The stem Sequential ``conv1`` (biased convs)
becomes ``encoder.stem``; ``layer1``/``layer2`` keep their names under ``encoder``; the low /
high branches ``layer3``/``layer3_`` and ``layer4``/``layer4_`` with ``compression3/4`` and
``down3/4`` become ``encoder.stage3.0`` / ``encoder.stage4`` (``low``, ``high``,
``compression``, ``down``; DDRNet-39's two stage-3 halves ``*3_1``/``*3_2`` become
``stage3.0``/``stage3.1``); the one-block ``layer5_``/``layer5`` become ``layer5_high`` /
``layer5_low``; the DAPPM's ``scaleN``/``processN`` become ``scales[N-1]``/``process[N-1]``;
``final_layer`` (``bn1, conv1, bn2, conv2``) becomes ``head`` and ``seghead_extra`` (files
trained with ``augment=True``) the ``aux`` head, otherwise left initialised (training-only).
"""

from __future__ import annotations

from ffseg.models._authors._common import AuthorsConverter

__all__ = ["CONVERTER"]

_HEAD = {"bn1": "0.0", "conv1": "0.2", "bn2": "1.0", "conv2": "1.2"}
_STAGE = {"3": "stage3.0", "3_1": "stage3.0", "3_2": "stage3.1", "4": "stage4"}

CONVERTER = AuthorsConverter(
    family="ddrnet",
    models=("ddrnet23_slim", "ddrnet23", "ddrnet39"),
    source="ydhongHIT/DDRNet (segmentation/DDRNet_23_slim.py, DDRNet_23.py, DDRNet_39.py)",
    signature=("conv1.0.weight", "layer4_.0.conv1.weight", "final_layer.conv2.weight"),
    prefix="model.",
    drop=(r"loss\..*",),
    absent=("aux_heads.",),
    rules=(
        (r"conv1\.([0134])\.(\w+)", r"encoder.stem.\1.\2"),
        (r"(layer[12])\.(.+)", r"encoder.\1.\2"),
        (r"layer(3|3_1|3_2|4)\.(.+)", lambda m: f"encoder.{_STAGE[m[1]]}.low.{m[2]}"),
        (r"layer(3|3_1|3_2|4)_\.(.+)", lambda m: f"encoder.{_STAGE[m[1]]}.high.{m[2]}"),
        (
            r"compression(3|3_1|3_2|4)\.(.+)",
            lambda m: f"encoder.{_STAGE[m[1]]}.compression.{m[2]}",
        ),
        (r"down(3|3_1|3_2|4)\.(.+)", lambda m: f"encoder.{_STAGE[m[1]]}.down.{m[2]}"),
        (r"layer5_\.0\.(.+)", r"encoder.layer5_high.\1"),
        (r"layer5\.0\.(.+)", r"encoder.layer5_low.\1"),
        (  # Sequential(pool, BN, ReLU, conv) -> Sequential(pool, Sequential(BN, ReLU, conv))
            r"spp\.scale([1-4])\.([13])\.(\w+)",
            lambda m: f"encoder.spp.scales.{int(m[1]) - 1}.1.{int(m[2]) - 1}.{m[3]}",
        ),
        (r"spp\.process([1-4])\.(.+)", lambda m: f"encoder.spp.process.{int(m[1]) - 1}.{m[2]}"),
        (r"spp\.(scale0|compression|shortcut)\.(.+)", r"encoder.spp.\1.\2"),
        (r"final_layer\.(\w+)\.(\w+)", lambda m: f"head.{_HEAD[m[1]]}.{m[2]}"),
        (r"seghead_extra\.(\w+)\.(\w+)", lambda m: f"aux_heads.aux.{_HEAD[m[1]]}.{m[2]}"),
    ),
)
