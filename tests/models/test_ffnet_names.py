"""FFNet names are architectures: the parser against the official release, and its errors."""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.models import get_pretrained_cfg, list_aliases, resolve_name
from ffseg.models.ffnet import RELEASE, TRAIN_ALIASES, FFNet, FFNetSpec, parse_ffnet_name
from tests.conftest import ffnet_golden


@pytest.mark.parametrize("official", sorted(ffnet_golden()))
def test_parser_agrees_with_the_official_settings(official: str) -> None:
    golden = ffnet_golden()[official]
    spec = parse_ffnet_name(official)
    assert spec.name == resolve_name(official)
    assert spec.official_name == official.removesuffix("_train")
    backbone = golden["backbone"].lower()
    assert spec.backbone == backbone.removesuffix("_d") and spec.strided == backbone.endswith("_d")
    assert golden["up_head"] == spec.up_head + "_mobile" * spec.mobile
    head = "classification" if spec.head == "X" else f"segmentation_{spec.head}"
    assert golden["task"] == head
    assert golden["pre_downsampling"] == spec.pre_downsample
    assert golden["dropout_rate"] == spec.dropout_rate
    assert golden["num_classes"] == spec.num_classes
    assert list(spec.input_size[1:]) == golden["native_input_hw"]
    if not official.endswith("_train"):  # _train examples point at an ImageNet backbone file
        assert spec.official_weight_file == golden["official_weight_file"]


def test_release_table_is_the_registry() -> None:
    assert len(RELEASE) == 87 and len(TRAIN_ALIASES) == 7 and TRAIN_ALIASES.issubset(RELEASE)
    names = {parse_ffnet_name(official).name for official in RELEASE}
    assert names == set(ffseg.list_models("ffnet*"))
    assert list_aliases("ffnet150_aaa") == [
        "segmentation_ffnet150_AAA",
        "segmentation_ffnet150_AAA_train",
    ]
    cfg = get_pretrained_cfg("ffnet150_aaa")
    assert cfg.published == {"cityscapes_val_miou": 84.4, "gpu_fp32_ms": 152, "gpu_fp16_ms": 81}
    assert get_pretrained_cfg("ffnet40s_bbx_mobile").published == {}


def test_spec_fields_and_spellings() -> None:
    spec = parse_ffnet_name("SEGMENTATION_FFNET40S_dBBB_mobile_train")
    assert spec == FFNetSpec(40, "s", True, "B", "B", "B", mobile=True)
    assert spec.name == "ffnet40s_dbbb_mobile"
    assert spec.official_name == "segmentation_ffnet40S_dBBB_mobile"
    assert spec.output_stride == 8 and spec.task == "segmentation"
    assert parse_ffnet_name("ffnet46ns_cbx_mobile").dropout_rate == 0.2
    assert parse_ffnet_name("ffnet18_aax").output_stride is None
    assert parse_ffnet_name("ffnet22s_bbb_pre_down").output_stride == 8


def test_unreleased_grammatical_name_builds() -> None:
    spec = parse_ffnet_name("ffnet22s_dbcb_mobile_pre_down")  # not in the release
    assert spec.name not in ffseg.list_models()
    model = FFNet(**spec.model_kwargs()).eval()
    assert model.output_stride == spec.output_stride == 16
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 128, 128)).shape[1] == 19


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("resnet40s_bbb", "must start with 'ffnet'"),
        ("ffnet_bbb", "depth and a family"),
        ("ffnet40x_bbb", "family 'x'"),
        ("ffnet41s_bbb", "no backbone resnet41s"),
        ("ffnet40s", "optional 'd' and three letters"),
        ("ffnet40s_bbbb", "optional 'd' and three letters"),
        ("ffnet40s_abb", "stem letter A"),
        ("ffnet40s_bdb", "up-head letter D"),
        ("ffnet40s_bbz", "head letter Z"),
        ("ffnet46n_dcbb", "no strided first stage"),
        ("ffnet40s_bbb_pre_down_mobile", "suffix '_pre_down_mobile'"),
        ("ffnet40s_bbb_fast", "suffix '_fast'"),
        ("classification_ffnet40S_BBB", "does not match head letter B"),
    ],
)
def test_invalid_names_name_the_invalid_part(name: str, part: str) -> None:
    with pytest.raises(ValueError, match="invalid FFNet name") as err:
        parse_ffnet_name(name)
    assert part in str(err.value) and "ffnet<depth>" in str(err.value)
