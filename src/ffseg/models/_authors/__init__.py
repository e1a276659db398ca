"""Key converters for the authors' released checkpoints (one small module per family).

Each family module defines one :class:`AuthorsConverter` (``CONVERTER``): pure data and pure
functions from the authors' state_dict to ffseg's. :func:`find_converter` picks the converter of
a model's family (or architecture name) whose signature keys the checkpoint has; nothing here
reads files (``ffseg.models._weights`` does, with ``weights_only=True``). See
``docs/PRETRAINED.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ffseg.models._authors import (
    bisenetv2,
    ddrnet,
    fastscnn,
    hrnet,
    pp_liteseg,
    regseg,
    stdc,
)
from ffseg.models._authors._common import AuthorsConverter, AuthorsLayoutError

__all__ = [
    "CONVERTERS",
    "AuthorsConverter",
    "AuthorsLayoutError",
    "converters_for",
    "find_converter",
]

#: Every converter, in lookup order.
CONVERTERS: tuple[AuthorsConverter, ...] = (
    hrnet.CONVERTER,
    regseg.CONVERTER,
    fastscnn.CONVERTER,
    bisenetv2.CONVERTER,
    ddrnet.CONVERTER,
    stdc.CONVERTER,
    pp_liteseg.CONVERTER,
)


def converters_for(family: str = "", architecture: str = "") -> list[AuthorsConverter]:
    """The converters of ``family`` or listing ``architecture`` among their models."""
    return [c for c in CONVERTERS if (family and c.family == family) or architecture in c.models]


def find_converter(
    state: Mapping[str, torch.Tensor], *, family: str = "", architecture: str = ""
) -> AuthorsConverter | None:
    """The converter for this model whose authors' layout ``state`` has, or None."""
    for converter in converters_for(family, architecture):
        if converter.detect(state):
            return converter
    return None
