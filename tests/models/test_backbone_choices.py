"""``create_model(name, backbone=...)`` for the families whose papers use several encoders."""

from __future__ import annotations

import importlib
import json

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models import get_model_entry
from tests.conftest import GOLDEN

#: (registered variant, another encoder its family accepts)
CASES = [
    ("swiftnet", "resnet34"),
    ("swiftnet", "mobilenetv2"),  # the SwiftNet paper's second encoder
    ("icnet", "resnet50"),  # the ICNet paper's encoder
    ("linknet", "resnet34"),
    ("shelfnet", "resnet50"),
    ("stdc1", "stdc2"),
    ("pp_liteseg_t", "stdc2"),
    ("pp_liteseg_t_ca", "stdc2"),
    ("farseenet", "resnet34"),
    ("fanet18", "resnet34"),
    ("fanet56", "resnet18"),
]


def _encoder_choices(name: str) -> tuple[str, ...]:
    """The encoders ``name``'s family module declares in ``BACKBONES``."""
    module = importlib.import_module(f"ffseg.models.{get_model_entry(name).module}")
    return tuple(getattr(module, "BACKBONES", ()))


#: Zoo names whose family takes several encoders (FFNet's backbones have their own tests).
MULTI_ENCODER = [
    n
    for n in ffseg.list_models()
    if get_model_entry(n).module != "ffnet" and len(_encoder_choices(n)) > 1
]


def test_every_multi_encoder_family_is_covered() -> None:
    families = {get_model_entry(n).module for n in MULTI_ENCODER}
    expected = {"bisenet", "fanet", "farseenet", "icnet", "linknet", "pp_liteseg", "shelfnet"}
    assert families == expected | {"stdc", "swiftnet"}


@pytest.mark.parametrize("name", MULTI_ENCODER)
def test_every_declared_backbone_builds(name: str) -> None:
    for backbone in _encoder_choices(name):
        with torch.device("meta"):
            model = ffseg.create_model(name, backbone=backbone)
        assert model.pretrained_cfg.model_args["backbone"] == backbone


@pytest.mark.parametrize(("name", "backbone"), CASES)
def test_backbone_builds_a_working_model(name: str, backbone: str) -> None:
    model = ffseg.create_model(name, backbone=backbone, num_classes=3).eval()
    cfg = model.pretrained_cfg
    assert cfg.architecture == name and cfg.model_args["backbone"] == backbone
    x = torch.randn(1, 3, 128, 128)
    with torch.inference_mode():
        out = model(x)
        feats = model.feature_encoder()(x)
    assert out.shape == (1, 3, 128 // cfg.output_stride, 128 // cfg.output_stride)
    info = model.feature_encoder().feature_info
    assert [(f.shape[1], 128 // f.shape[-1]) for f in feats] == [
        (i.num_chs, i.reduction) for i in info
    ]


def test_stdc_backbone_switch_matches_the_other_variant() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("stdc1", backbone="stdc2")
    golden = json.loads((GOLDEN / "params" / "stdc.json").read_text())
    assert count_params(model) == golden["stdc2"]


@pytest.mark.parametrize(
    ("name", "bad", "valid"),
    [
        ("swiftnet", "resnet40s", "mobilenetv2"),
        ("icnet", "mobilenetv2", "resnet50"),
        ("linknet", "vgg16", "resnet34"),
        ("shelfnet", "resnet152", "resnet101"),
        ("stdc2", "stdc3", "stdc1"),
        ("pp_liteseg_b", "resnet18", "stdc2"),
        ("bisenetv1", "resnet34", "resnet101"),
        ("farseenet", "mobilenetv2", "resnet50"),
        ("fanet18", "resnet152", "resnet134"),
    ],
)
def test_unknown_backbone_lists_the_valid_ones(name: str, bad: str, valid: str) -> None:
    with pytest.raises(ValueError, match=rf"unknown \w+ backbone '{bad}'.*{valid}"):
        ffseg.create_model(name, backbone=bad)


def test_backbone_survives_save_and_load(tmp_path) -> None:
    model = ffseg.create_model("linknet", backbone="resnet34", num_classes=4)
    ffseg.save_pretrained(model, tmp_path)
    loaded = ffseg.load_pretrained(tmp_path)
    assert loaded.pretrained_cfg.model_args["backbone"] == "resnet34"
    assert count_params(loaded) == count_params(model)
