"""STDC1/2-Seg (MichaelFan01/STDC-Seg, ``models/model_stages.py``, ``nets/stdcnet.py``).

The released files (``model_maxmIOU50.pth`` / ``model_maxmIOU75.pth``) are plain state_dicts of
``BiSeNet("STDCNet813" | "STDCNet1446", 19)``. Dropped, with the reason: the backbone's
``x2``..``x32`` entries (the same modules as ``features``, saved twice), its ImageNet head
(``conv_last``, ``fc``, ``bn``, ``linear``; unused by segmentation) and the boundary heads
``conv_out_sp2/4/16`` (built but never trained: the released recipe uses the stride-8 one).
``features.0/1`` become ``backbone.stage1/2``; ``features.N`` (N >= 2) becomes
``backbone.stageS.j`` (a new stage starts at each module with an ``avd_layer``), with
``conv_list.i``/``avd_layer`` as ``convs.i``/``avd``; ``cp.arm*``'s ``conv_atten``/``bn_atten``
become ``attn.0/1``; ``ffm.convblk/conv1/conv2`` become ``ffm.conv/attn.1/attn.3``;
``conv_out`` is the head and ``conv_out16``/``conv_out32``/``conv_out_sp8`` the training heads
``aux16``/``aux32``/``detail``. The InPlaceABN BatchNorms save no ``num_batches_tracked``.
"""

from __future__ import annotations

import re

from ffseg.models._authors._common import AuthorsConverter, State

__all__ = ["CONVERTER", "ENCODER_RULES", "name_stdc_stages"]

_CB = {"conv": "0", "bn": "1"}
_HEADS = {
    "conv_out": "head",
    "conv_out16": "aux_heads.aux16",
    "conv_out32": "aux_heads.aux32",
    "conv_out_sp8": "aux_heads.detail",
}


def name_stdc_stages(state: State, features: str) -> State:
    """Rename ``<features>.N.*`` to ``backbone.stageS.j.*`` (``stage1``/``stage2`` for N = 0, 1).

    A new stage starts at each module with an ``avd_layer`` (the strided ones), so STDC1 and
    STDC2 need no table.
    """
    pattern = re.compile(rf"{re.escape(features)}\.(\d+)\.(.+)")
    found = [(int(m[1]), m[2]) for k in state if (m := pattern.fullmatch(k))]
    strided = {i for i, rest in found if rest.startswith("avd_layer")}
    place: dict[int, str] = {0: "stage1", 1: "stage2"}
    stage, j = 2, 0
    for i in sorted({i for i, _ in found} - {0, 1}):
        stage, j = (stage + 1, 0) if i in strided else (stage, j + 1)
        place[i] = f"stage{stage}.{j}"
    out: State = {}
    for key, value in state.items():
        m = pattern.fullmatch(key)
        out[f"backbone.{place[int(m[1])]}.{m[2]}" if m else key] = value
    return out


def _prepare(state: State) -> State:
    return name_stdc_stages(state, "cp.backbone.features")


#: Rules for the STDC encoder after :func:`name_stdc_stages` (shared with PP-LiteSeg).
ENCODER_RULES = (
    (r"backbone\.(stage[12])\.(conv|bn)\.(\w+)", lambda m: f"backbone.{m[1]}.{_CB[m[2]]}.{m[3]}"),
    (
        r"backbone\.(stage[3-5]\.\d+)\.conv_list\.(\d)\.(conv|bn)\.(\w+)",
        lambda m: f"backbone.{m[1]}.convs.{m[2]}.{_CB[m[3]]}.{m[4]}",
    ),
    (r"backbone\.(stage[3-5]\.\d+)\.avd_layer\.([01])\.(\w+)", r"backbone.\1.avd.\2.\3"),
)


CONVERTER = AuthorsConverter(
    family="stdc",
    models=("stdc1", "stdc2"),
    source="MichaelFan01/STDC-Seg (models/model_stages.py, nets/stdcnet.py)",
    signature=("cp.backbone.features.0.conv.weight", "cp.arm16.conv_atten.weight"),
    drop=(
        r"cp\.backbone\.x(2|4|8|16|32)\..*",
        r"cp\.backbone\.(conv_last|fc|bn|linear)\..*",
        r"conv_out_sp(2|4|16)\..*",
    ),
    prepare=_prepare,
    rules=(
        *ENCODER_RULES,
        (
            r"cp\.(arm16|arm32)\.conv\.(conv|bn)\.(\w+)",
            lambda m: f"{m[1]}.conv.{_CB[m[2]]}.{m[3]}",
        ),
        (r"cp\.(arm16|arm32)\.conv_atten\.(\w+)", r"\1.attn.0.\2"),
        (r"cp\.(arm16|arm32)\.bn_atten\.(\w+)", r"\1.attn.1.\2"),
        (
            r"cp\.(conv_head32|conv_head16|conv_avg)\.(conv|bn)\.(\w+)",
            lambda m: f"{m[1]}.{_CB[m[2]]}.{m[3]}",
        ),
        (r"ffm\.convblk\.(conv|bn)\.(\w+)", lambda m: f"ffm.conv.{_CB[m[1]]}.{m[2]}"),
        (r"ffm\.conv1\.(\w+)", r"ffm.attn.1.\1"),
        (r"ffm\.conv2\.(\w+)", r"ffm.attn.3.\1"),
        (
            r"(conv_out\w*)\.conv\.(conv|bn)\.(\w+)",
            lambda m: f"{_HEADS[m[1]]}.conv.{_CB[m[2]]}.{m[3]}",
        ),
        (r"(conv_out\w*)\.conv_out\.(\w+)", lambda m: f"{_HEADS[m[1]]}.cls.{m[2]}"),
    ),
)
