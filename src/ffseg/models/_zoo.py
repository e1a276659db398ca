"""Defaults shared by the zoo families' ``default_cfgs`` (everything except FFNet)."""

from __future__ import annotations

from typing import Any

from ffseg.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from ffseg.models._base import PretrainedCfg

__all__ = ["ZOO_LICENSE", "zoo_cfg"]

#: Every zoo family: our own code, written from the paper; no weights are bundled.
ZOO_LICENSE = "ffseg implementation (Apache-2.0), written from the paper; no weights bundled."


def zoo_cfg(*, family: str, paper: str, **fields: Any) -> PretrainedCfg:
    """A Cityscapes-trained zoo model's default cfg (19 classes, 1024x2048, min input 64x64).

    ``fields`` override any :class:`PretrainedCfg` field (``output_stride``, ``published``, ...).
    The registry fills in ``architecture`` with the variant's name.
    """
    base: dict[str, Any] = dict(
        architecture=family,
        family=family,
        paper=paper,
        license=ZOO_LICENSE,
        num_classes=19,
        classes=CITYSCAPES_CLASSES,
        palette=CITYSCAPES_PALETTE,
        dataset="cityscapes",
        min_input_size=(64, 64),
    )
    return PretrainedCfg(**{**base, **fields})
