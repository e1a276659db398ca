"""The FFNet design space beyond the registered names: every encoder, head letter and switch."""

from __future__ import annotations

import pytest
import torch

from ffseg.deploy.flops import count_params
from ffseg.models.ffnet import FFNet
from ffseg.models.resnet import BACKBONES, build_backbone

# Encoder parameter counts of the official backbone table (plain, strided-first-stage "_D").
ENCODER_PARAMS = {
    "resnet18": (11_176_512, 11_180_736),
    "resnet34": (21_284_672, 21_288_896),
    "resnet50": (23_508_032, 23_508_032),
    "resnet56": (29_624_384, 29_628_608),
    "resnet86": (49_986_624, 49_990_848),
    "resnet101": (42_500_160, 42_500_160),
    "resnet134": (94_251_072, 94_255_296),
    "resnet150": (94_842_944, 94_847_168),
    "resnet22s": (6_278_176, 6_282_400),
    "resnet30s": (9_156_384, 9_160_608),
    "resnet40s": (12_698_912, 12_703_136),
    "resnet54s": (16_832_288, 16_836_512),
    "resnet78s": (26_278_688, 26_282_912),
    "resnet86s": (25_394_976, 25_399_200),
    "resnet150s": (46_798_112, 46_802_336),
    "resnet46n": (19_014_080, None),
    "resnet74n": (35_948_224, None),
    "resnet122n": (50_193_600, None),
    "resnet46ns": (12_005_824, None),
    "resnet74ns": (22_780_864, None),
    "resnet122ns": (31_640_512, None),
}


def test_table_covers_every_backbone() -> None:
    assert set(ENCODER_PARAMS) == set(BACKBONES)


@pytest.mark.parametrize("name", sorted(ENCODER_PARAMS))
def test_encoder_params(name: str) -> None:
    plain, strided = ENCODER_PARAMS[name]
    with torch.device("meta"):
        assert count_params(build_backbone(name)) == plain
        if strided is None:
            with pytest.raises(ValueError, match="no strided-first-stage"):
                build_backbone(name, first_stage_stride=2)
        else:
            assert count_params(build_backbone(name, first_stage_stride=2)) == strided


@pytest.mark.parametrize("backbone", ["resnet22s", "resnet30s"])
@pytest.mark.parametrize("up_head", ["A", "B", "C"])
@pytest.mark.parametrize("seg_head", ["A", "B", "C", "X"])
def test_unregistered_combinations_build_and_run(
    backbone: str, up_head: str, seg_head: str
) -> None:
    model = FFNet(backbone, up_head, seg_head, mobile=seg_head == "B", num_classes=7).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 64, 96))
    assert out.shape == ((2, 7) if seg_head == "X" else (2, 7, 16, 24))


def test_switches_change_output_stride() -> None:
    x = torch.randn(1, 3, 128, 128)
    with torch.inference_mode():
        assert FFNet("resnet22s").eval()(x).shape[-1] == 32
        assert FFNet("resnet22s", first_stage_stride=2).eval()(x).shape[-1] == 16
        assert FFNet("resnet22s", pre_downsample=True).eval()(x).shape[-1] == 16
    assert FFNet("resnet22s", first_stage_stride=2, pre_downsample=True).output_stride == 16


def test_stem_override_and_invalid_choices() -> None:
    model = FFNet("resnet34", "A", "A", stem="B")
    assert hasattr(model.backbone_model, "conv0")
    with pytest.raises(ValueError, match="up_head"):
        FFNet("resnet22s", up_head="D")
    with pytest.raises(ValueError, match="seg_head"):
        FFNet("resnet22s", seg_head="Z")
    with pytest.raises(ValueError, match="unknown backbone"):
        FFNet("resnet23s")
    with pytest.raises(ValueError, match="needs 3 stages"):
        FFNet("resnet34", stem="C")


def test_kaiming_init_zeroes_residual_branches() -> None:
    model = FFNet("resnet22s", init="kaiming")
    assert torch.count_nonzero(model.backbone_model.layer1[0].bn2.weight) == 0
    with pytest.raises(ValueError, match="init"):
        FFNet("resnet22s", init="xavier")


def test_classifier_dropout_only_in_training() -> None:
    model = FFNet("resnet22s", "B", "X", num_classes=10, dropout_rate=0.2)
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(1)
    b = model(x)
    assert not torch.equal(a, b)


# ---- every grammatical name builds by name (the design space of ffseg tune) ----------------


def test_unregistered_grammatical_name_builds_by_name(tmp_path) -> None:
    import ffseg
    from ffseg.models import get_pretrained_cfg
    from ffseg.models.ffnet import parse_ffnet_name

    name = "ffnet30s_dbcb_mobile"
    assert name not in ffseg.list_models() and ffseg.is_model(name)
    model = ffseg.create_model(name, num_classes=5).eval()
    spec = parse_ffnet_name(name)
    assert isinstance(model, FFNet) and model.pretrained_cfg.architecture == name
    assert model.pretrained_cfg.output_stride == spec.output_stride == 8
    assert get_pretrained_cfg("SEGMENTATION_ffnet30S_dBCB_mobile").architecture == name
    ffseg.save_pretrained(model, tmp_path)  # a design-space point is a first-class model
    loaded = ffseg.load_pretrained(tmp_path).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("ffnet31s_bbb", "no backbone resnet31s"),
        ("ffnet40s_dbxb_mobile", "up-head letter X"),
        ("ffnet46n_dcbb", "'d' in 'dcbb'"),
        ("ffnet40s_bbb_fast", "suffix '_fast'"),
        ("ffnet40s_abb", "stem letter A"),
    ],
)
def test_ungrammatical_name_names_the_part(name: str, part: str) -> None:
    import ffseg

    assert not ffseg.is_model(name)
    with pytest.raises(ffseg.models.UnknownModelError, match="invalid FFNet name") as err:
        ffseg.create_model(name)
    assert part in str(err.value) and "ffnet<depth>" in str(err.value)


def test_design_space_size_and_listing(capsys) -> None:
    from ffseg.cli import main
    from ffseg.models.ffnet import design_space

    seg, cls = design_space("segmentation"), design_space("classification")
    names = {p.name for p in seg + cls}
    assert len(names) == len(seg) + len(cls) and len(seg) == 1296  # 21 backbones, see the table
    registered = set(ffseg_list := __import__("ffseg").list_models("ffnet*"))
    assert registered <= names, sorted(registered - names)[:3]
    assert main(["list", "--design-space"]) == 0
    out = capsys.readouterr().out
    assert f"{len(seg)} segmentation + {len(cls)} classification points" in out
    assert f"{len(ffseg_list)} of them are registered" in out
    assert main(["list", "--design-space", "ffnet22s_d*_mobile"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed and all(n.startswith("ffnet22s_d") and n.endswith("_mobile") for n in listed)
