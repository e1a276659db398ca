"""RegSeg (RolandGao/RegSeg, ``model.py`` / ``blocks.py``; the paper's ``exp48_decoder26``).

Released files hold a plain state_dict or ``{"model": state_dict, ...}`` (both read by ffseg).
``stem``/``body``/``decoder`` become ``backbone.stem``/``backbone``/the head convs; each
``ConvBnAct``'s ``conv``/``bn`` become children ``0``/``1``; a D block's ``conv1/bn1``,
``conv2/bn2``, ``conv3/bn3`` become ``conv1``, ``conv2`` and ``conv3`` (conv + BN); SE
``conv1/conv2`` become ``fc1/fc2``; the shortcut's ``conv/bn`` follow its average pool
(``shortcut.1``). A split dilated conv (``conv2.convs.i``) is followed by one BatchNorm over both
halves in the authors' code and by one per half in ffseg: the BatchNorm is split channel-wise
(exact).
"""

from __future__ import annotations

from ffseg.models._authors._common import AuthorsConverter, State, split_bn

__all__ = ["CONVERTER"]

_BLOCK = r"body\.(stage4|stage8\.\d+|stage16\.\d+)"


def _prepare(state: State) -> State:
    for key in [k for k in state if k.endswith("conv2.convs.0.weight")]:
        block = key[: -len(".conv2.convs.0.weight")]
        n = sum(1 for k in state if k.startswith(f"{block}.conv2.convs.") and k.endswith("weight"))
        split_bn(state, f"{block}.bn2", [f"{block}.bn2_split.{i}" for i in range(n)])
    return state


CONVERTER = AuthorsConverter(
    family="regseg",
    models=("regseg",),
    source="RolandGao/RegSeg (model.py RegSeg('exp48_decoder26'), blocks.py)",
    signature=("body.stage4.conv1.weight", "decoder.classifier.weight"),
    prepare=_prepare,
    rules=(
        (r"stem\.conv\.(\w+)", r"backbone.stem.0.\1"),
        (r"stem\.bn\.(\w+)", r"backbone.stem.1.\1"),
        (rf"{_BLOCK}\.conv([123])\.weight", r"backbone.\1.conv\2.0.weight"),
        (rf"{_BLOCK}\.bn([123])\.(\w+)", r"backbone.\1.conv\2.1.\3"),
        (rf"{_BLOCK}\.conv2\.convs\.(\d)\.weight", r"backbone.\1.branches.\2.0.weight"),
        (rf"{_BLOCK}\.bn2_split\.(\d)\.(\w+)", r"backbone.\1.branches.\2.1.\3"),
        (rf"{_BLOCK}\.se\.conv([12])\.(\w+)", r"backbone.\1.se.fc\2.\3"),
        (rf"{_BLOCK}\.shortcut\.conv\.(\w+)", r"backbone.\1.shortcut.1.0.\2"),
        (rf"{_BLOCK}\.shortcut\.bn\.(\w+)", r"backbone.\1.shortcut.1.1.\2"),
        (r"decoder\.(head16|head8|head4|conv8|conv4)\.conv\.(\w+)", r"\1.0.\2"),
        (r"decoder\.(head16|head8|head4|conv8|conv4)\.bn\.(\w+)", r"\1.1.\2"),
        (r"decoder\.classifier\.(\w+)", r"cls.\1"),
    ),
)
