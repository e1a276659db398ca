"""Names read from files never reach the network: hub encoders are refused, hubs are offline.

A model name stored in a file (a run folder's ``config.json``, a checkpoint's recipe) is data.
An smp encoder served by a model hub (``tu-hf_hub:...``) would make timm fetch its
configuration, so such names are refused from disk (:func:`check_stored_smp_name`), and every
build of a stored name runs inside :func:`hubs_offline`, which puts the hub libraries ffseg
reaches through timm and smp (``huggingface_hub``) in offline mode for that build only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["HUB_OFFLINE_ENV", "check_stored_smp_name", "hubs_offline", "is_hub_encoder"]

#: Environment switches that make the hub libraries offline.
HUB_OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
_HUB_MARKERS = ("hf_hub", "hf-hub")


def is_hub_encoder(encoder: str) -> bool:
    """Whether an smp / timm encoder name is served by a model hub (``tu-hf_hub:org/name``)."""
    return any(marker in encoder.lower() for marker in _HUB_MARKERS)


def check_stored_smp_name(name: str, where: str) -> None:
    """Refuse an ``smp:<Arch>:<encoder>`` read from a file whose encoder lives on a hub."""
    encoder = name.split(":", 2)[-1]
    if is_hub_encoder(encoder):
        raise ValueError(
            f"{where} is {name!r}: its encoder {encoder!r} is fetched from a model hub, and a "
            "name read from a file may not make ffseg reach the network. Nothing was fetched. "
            "Build such a model in your own code (ffseg.create_model) with a local encoder."
        )


@contextmanager
def hubs_offline() -> Iterator[None]:
    """Hub libraries offline inside the block (environment and an imported
    ``huggingface_hub``'s constant), restored afterwards."""
    saved = {key: os.environ.get(key) for key in HUB_OFFLINE_ENV}
    constants = sys.modules.get("huggingface_hub.constants")
    before = getattr(constants, "HF_HUB_OFFLINE", None)
    os.environ.update({key: "1" for key in HUB_OFFLINE_ENV})
    if constants is not None:
        constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        constants = sys.modules.get("huggingface_hub.constants")
        if constants is not None:  # imported before or inside the block: back to its setting
            offline = (saved["HF_HUB_OFFLINE"] or "").strip().lower() in ("1", "true", "yes", "on")
            constants.HF_HUB_OFFLINE = before if before is not None else offline  # type: ignore[attr-defined]
