"""PP-LiteSeg-T / B (PaddlePaddle/PaddleSeg, ``paddleseg/models/pp_liteseg.py``).

PaddleSeg releases Paddle files (``model.pdparams``); ffseg reads them once saved as torch
tensors under their Paddle names (``docs/PRETRAINED.md`` gives the three-line recipe; Paddle's
``Conv2D`` weights share torch's ``[out, in/groups, kh, kw]`` layout and the model has no
``Linear``, so nothing is transposed). The conversion: BatchNorm statistics ``_mean`` /
``_variance`` become ``running_mean`` / ``running_var`` (Paddle keeps no
``num_batches_tracked``); ``layers.ConvBNReLU`` / ``ConvBN``'s ``_conv`` / ``_batch_norm``
become children ``0`` / ``1``; the STDC backbone's ``features.N`` become ``backbone.stageS.j``
as for STDC-Seg, and its ``x2``..``x32`` entries (the same layers saved twice) and the unused
``conv_last`` are dropped; ``ppseg_head.cm`` / ``ppseg_head.arm_list`` become ``cm`` /
``arm_list``; ``seg_heads.0/1/2`` become ``head`` and the training heads ``aux16`` / ``aux32``.
"""

from __future__ import annotations

from ffseg.models._authors._common import AuthorsConverter, State
from ffseg.models._authors.stdc import ENCODER_RULES, name_stdc_stages

__all__ = ["CONVERTER"]

_PADDLE_BN = {"_mean": "running_mean", "_variance": "running_var"}
_CB = {"_conv": "0", "_batch_norm": "1"}
_HEADS = {"0": "head", "1": "aux_heads.aux16", "2": "aux_heads.aux32"}


def _prepare(state: State) -> State:
    renamed = {}
    for key, value in state.items():
        stem, _, last = key.rpartition(".")
        renamed[f"{stem}.{_PADDLE_BN.get(last, last)}"] = value
    return name_stdc_stages(renamed, "backbone.features")


CONVERTER = AuthorsConverter(
    family="pp_liteseg",
    models=("pp_liteseg_t", "pp_liteseg_b"),
    source="PaddlePaddle/PaddleSeg (paddleseg/models/pp_liteseg.py, backbones/stdcnet.py)",
    signature=("backbone.features.0.conv.weight", "ppseg_head.cm.conv_out._conv.weight"),
    drop=(r"backbone\.(x(2|4|8|16|32)|conv_last)\..*",),
    prepare=_prepare,
    rules=(
        *ENCODER_RULES,
        (
            r"ppseg_head\.cm\.stages\.(\d)\.1\.(_conv|_batch_norm)\.(\w+)",
            lambda m: f"cm.stages.{m[1]}.1.{_CB[m[2]]}.{m[3]}",
        ),
        (
            r"ppseg_head\.cm\.conv_out\.(_conv|_batch_norm)\.(\w+)",
            lambda m: f"cm.conv_out.{_CB[m[1]]}.{m[2]}",
        ),
        (
            r"ppseg_head\.arm_list\.(\d)\.(conv_x|conv_out)\.(_conv|_batch_norm)\.(\w+)",
            lambda m: f"arm_list.{m[1]}.{m[2]}.{_CB[m[3]]}.{m[4]}",
        ),
        (
            r"ppseg_head\.arm_list\.(\d)\.conv_xy_atten\.([01])\.(_conv|_batch_norm)\.(\w+)",
            lambda m: f"arm_list.{m[1]}.conv_xy_atten.{m[2]}.{_CB[m[3]]}.{m[4]}",
        ),
        (
            r"seg_heads\.([012])\.conv\.(_conv|_batch_norm)\.(\w+)",
            lambda m: f"{_HEADS[m[1]]}.conv.{_CB[m[2]]}.{m[3]}",
        ),
        (r"seg_heads\.([012])\.conv_out\.(\w+)", lambda m: f"{_HEADS[m[1]]}.cls.{m[2]}"),
    ),
)
