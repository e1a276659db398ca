"""Zoo-I models corrected to the authors' released code: params and MACs of the inference graph.

Targets are the audit's figures (``/shared/specs/zoo.md``, "Group I - corrections"): the
modules called in ``forward`` at 1x3x1024x2048, 19 classes, training-only heads excluded.
"""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_macs, count_params
from ffseg.models import get_model_entry, get_pretrained_cfg

#: name -> (params in M or None, GMACs at 1024x2048)
AUTHORS = {
    "pp_liteseg_t": (8.03, 45.7),
    "pp_liteseg_b": (12.23, 76.9),
    "stdc1": (8.28, 67.5),
    "stdc2": (12.31, 93.8),
    "shelfnet": (14.36, 98.7),
    "ddrnet23_slim": (None, 36.28),
    "ddrnet23": (None, 143.1),
    "ddrnet39": (None, 281.1),
}


def _inference_params(model: torch.nn.Module) -> int:
    aux = getattr(model, "aux_heads", None)
    return count_params(model) - (count_params(aux) if aux is not None else 0)


@pytest.mark.parametrize("name", sorted(AUTHORS))
def test_params_and_macs_within_1_percent_of_authors(name: str) -> None:
    params, gmacs = AUTHORS[name]
    with torch.device("meta"):
        model = ffseg.create_model(name)
    macs = count_macs(model, (1024, 2048)) / 1e9
    assert abs(macs / gmacs - 1) < 0.01, macs
    if params is not None:
        assert abs(_inference_params(model) / 1e6 / params - 1) < 0.01


def test_ddrnet_stem_convs_have_biases() -> None:
    with torch.device("meta"):
        stems = {n: ffseg.create_model(n).encoder.stem for n in ("ddrnet23_slim", "ddrnet39")}
    assert [m.bias.numel() for m in stems["ddrnet23_slim"] if isinstance(m, torch.nn.Conv2d)] == [
        32,
        32,
    ]
    assert sum(m.bias.numel() for m in stems["ddrnet39"] if isinstance(m, torch.nn.Conv2d)) == 128


#: Zoo-I family modules whose published numbers must carry their context.
ZOO_I = [
    "bisenet",
    "bisenetv2",
    "canet",
    "ddrnet",
    "dfanet",
    "fanet",
    "farseenet",
    "fastscnn",
    "hrnet",
    "icnet",
    "linknet",
    "liteseg",
    "pp_liteseg",
    "regseg",
    "shelfnet",
    "sqnet",
    "stdc",
    "swiftnet",
]


def test_every_published_number_names_its_resolution_and_source() -> None:
    names = [n for n in ffseg.list_models() if get_model_entry(n).module in ZOO_I]
    for name in names:
        cfg = get_pretrained_cfg(name)
        for key in cfg.published:
            assert "_val_" in key or "_test_" in key, (name, key)
            at, _, source = cfg.published_context.get(key, "").partition("; ")
            assert at and source, (name, key)


def test_ffnet_paper_retrained_numbers_have_their_own_key() -> None:
    cfg = get_pretrained_cfg("hrnetv2_w48")
    assert cfg.published["cityscapes_val_miou"] == 81.1  # the HRNet authors'
    assert cfg.published["cityscapes_val_miou_ffnet_paper"] == 84.9
    assert "FFNet paper" in cfg.published_context["cityscapes_val_miou_ffnet_paper"]
