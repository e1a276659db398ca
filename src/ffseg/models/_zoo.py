"""Defaults shared by the zoo families' ``default_cfgs`` (everything except FFNet)."""

from __future__ import annotations

from typing import Any, NamedTuple

from ffseg.classes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from ffseg.models._base import PretrainedCfg

__all__ = ["ZOO_LICENSE", "Reported", "zoo_cfg"]

#: Every zoo family: our own code, written from the paper; no weights are bundled.
ZOO_LICENSE = "ffseg implementation (Apache-2.0), written from the paper; no weights bundled."


class Reported(NamedTuple):
    """One number the authors reported, with its context.

    ``at`` is the evaluation resolution and protocol (``"1024x2048, single scale"``);
    ``source`` is where it is reported (``"paper Table 3"``, ``"authors' README"``).
    """

    value: float
    at: str
    source: str


def zoo_cfg(
    *, family: str, paper: str, published: dict[str, Reported] | None = None, **fields: Any
) -> PretrainedCfg:
    """A Cityscapes-trained zoo model's default cfg (19 classes, 1024x2048, min input 64x64).

    ``published`` maps a key naming dataset, split and metric (``cityscapes_test_miou``) to a
    :class:`Reported` number; it fills ``published`` and ``published_context``. ``fields``
    override any other :class:`PretrainedCfg` field (``output_stride``, ...). The registry
    fills in ``architecture`` with the variant's name.
    """
    reported = {
        k: v if isinstance(v, Reported) else Reported(v, "", "")
        for k, v in (published or {}).items()
    }
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
        published={k: float(r.value) for k, r in reported.items()},
        published_context={k: f"{r.at}; {r.source}" for k, r in reported.items() if r.source},
    )
    return PretrainedCfg(**{**base, **fields})
