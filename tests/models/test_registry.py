"""The model registry: names, aliases, filtering, errors."""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.models import (
    UnknownModelError,
    get_model_entry,
    get_pretrained_cfg,
    is_model,
    list_aliases,
    list_models,
    register_model,
    resolve_name,
)
from tests.conftest import ffnet_golden


def test_every_official_ffnet_name_resolves() -> None:
    golden = ffnet_golden()
    assert len(golden) == 94
    canonical = {resolve_name(name) for name in golden}
    assert canonical == set(list_models("ffnet*"))
    for name in golden:
        assert is_model(name) and is_model(name.lower()) and is_model(name.upper())


def test_train_variants_share_the_architecture_of_their_twin() -> None:
    assert resolve_name("segmentation_ffnet150_AAA_train") == "ffnet150_aaa"
    assert resolve_name("segmentation_ffnet86S_BBB_train") == "ffnet86s_bbb"
    assert "segmentation_ffnet150_AAA_train" in list_aliases("ffnet150_aaa")


def test_list_models_filters_and_natural_sort() -> None:
    mobile = list_models("ffnet*_mobile")
    assert mobile and all(n.endswith("_mobile") for n in mobile)
    s_models = list_models("ffnet*s_bbb_mobile")
    assert s_models == [
        "ffnet40s_bbb_mobile", "ffnet54s_bbb_mobile", "ffnet78s_bbb_mobile",
        "ffnet86s_bbb_mobile", "ffnet150s_bbb_mobile",
    ]  # fmt: skip
    both = list_models(["ffnet18*", "ffnet34_aaa"])
    assert both == ["ffnet18_aax", "ffnet18_daaa", "ffnet18_daac", "ffnet34_aaa"]
    assert "ffnet18_aax" not in list_models("ffnet18*", exclude_filters="*x")
    assert list_models("FFNET18_DAAA") == ["ffnet18_daaa"]


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownModelError) as err:
        ffseg.create_model("ffnet40s_bbb_mobil")
    message = str(err.value)
    assert "ffnet40s_bbb_mobile" in message and "ffseg list" in message


def test_registering_a_duplicate_or_uppercase_name_fails() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register_model(get_model_entry("ffnet18_daaa").fn)
    with pytest.raises(ValueError, match="lowercase"):

        def Bad() -> None: ...

        register_model(Bad)


def test_entry_records_module() -> None:
    assert get_model_entry("segmentation_ffnet40S_BBB_mobile").module == "ffnet"


def test_default_cfgs_are_read_without_building(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_build(self: torch.nn.Module, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"get_pretrained_cfg built a {type(self).__name__}")

    monkeypatch.setattr(torch.nn.Module, "__init__", no_build)
    for name in list_models():
        cfg = get_pretrained_cfg(name)
        assert cfg.architecture == name and cfg.family, name
    assert get_pretrained_cfg("segmentation_ffnet40S_BBB_mobile").architecture == (
        "ffnet40s_bbb_mobile"
    )


@pytest.mark.parametrize("name", ffseg.list_models())
def test_every_published_number_has_its_context(name: str) -> None:
    """Split in the key; evaluation resolution and source in ``published_context``."""
    import re

    cfg = get_pretrained_cfg(name)
    for key in cfg.published:
        assert re.search(r"_(val|test)_|_ms$|latency", key), f"{name}: {key} names no split"
        context = cfg.published_context.get(key, "")
        at, _, source = context.partition(";")
        assert re.search(r"\d+x\d+", at), f"{name}: {key} has no evaluation resolution: {context!r}"
        assert source.strip(), f"{name}: {key} has no source: {context!r}"


def test_models_are_named_by_what_was_built() -> None:
    """A class spec or a name with architecture kwargs is named by its design-space point."""
    from ffseg.models import name_of_build

    spec = "ffseg.models.ffnet:FFNet"
    kwargs = dict(backbone="resnet22s", up_head="B", seg_head="B", mobile=True)
    assert name_of_build(spec, {**kwargs, "first_stage_stride": 2}) == "ffnet22s_dbbb_mobile"
    assert name_of_build("ffnet40s_dbbb_mobile", {"up_head": "C"}) == "ffnet40s_dbcb_mobile"
    assert name_of_build("ffnet40s_dbbb_mobile", {"init": "kaiming"}) == "ffnet40s_dbbb_mobile"
    assert name_of_build("ddrnet23_slim", {"up_head": "C"}) == "ddrnet23_slim"
    with torch.device("meta"):
        tuned = ffseg.create_model("ffnet40s_dbbb_mobile", up_head="C", num_classes=3)
    assert tuned.pretrained_cfg.architecture == "ffnet40s_dbcb_mobile"


def test_pretrained_cfg_reads_like_a_mapping() -> None:
    cfg = get_pretrained_cfg("ffnet40s_bbb_mobile")
    assert cfg["mean"] == cfg.mean and cfg.get("input_size") == cfg.input_size
    assert cfg.get("nope", 7) == 7 and "std" in cfg and "nope" not in cfg
    as_dict = dict(cfg)
    assert as_dict["num_classes"] == 19 and list(cfg.keys()) == list(as_dict)
    assert len(cfg) == len(as_dict)
    with pytest.raises(KeyError):
        cfg["nope"]
