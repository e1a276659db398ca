"""Loading official-layout FFNet checkpoints, head adaptation, save/load, features_only."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

import ffseg
from ffseg.models import WeightsError

SMALL = "segmentation_ffnet40S_dBBB_mobile"  # ~14M params, output stride 8


def _official_checkpoint(name: str, path: Path, wrap: str | None = None) -> dict:
    """Write a checkpoint the way the official release stores one (plain state_dict)."""
    torch.manual_seed(1)
    model = ffseg.create_model(name)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    state = model.state_dict()
    obj: object = state
    if wrap == "state_dict":
        obj = {"state_dict": state, "epoch": 3}
    elif wrap == "ddp":
        obj = {f"module.{k}": v for k, v in state.items()}
    torch.save(obj, path)
    return state


@pytest.mark.parametrize("wrap", [None, "state_dict", "ddp"])
def test_official_checkpoint_loads_strict(tmp_path: Path, wrap: str | None) -> None:
    path = tmp_path / "ffnet40S_dBBB_cityscapes_state_dict_quarts.pth"
    state = _official_checkpoint(SMALL, path, wrap)
    model = ffseg.create_model(SMALL, pretrained=path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_new_num_classes_reinitialises_only_the_classifier(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ckpt.pth"
    state = _official_checkpoint(SMALL, path)
    with caplog.at_level(logging.INFO, logger="ffseg"):
        model = ffseg.create_model(SMALL, pretrained=path, num_classes=5)
    head = model.classifier_path
    lines = [r.getMessage() for r in caplog.records if "re-initialised" in r.getMessage()]
    assert len(lines) == 1 and head in lines[0] and "19" in lines[0]
    for key, value in model.state_dict().items():
        if key.startswith(head):
            assert value.shape[0] == 5
        else:
            assert torch.equal(value, state[key]), key


def test_mobile_twin_accepts_pre_down_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "pre_down.pth"
    state = _official_checkpoint("segmentation_ffnet40S_BBB_mobile_pre_down", path)
    model = ffseg.create_model("segmentation_ffnet40S_BBB_mobile", pretrained=path)
    assert "smoothing.weight" not in model.state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_checkpoint_of_another_model_fails_with_keys(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    _official_checkpoint("segmentation_ffnet46NS_CCC_mobile", path)
    with pytest.raises(WeightsError) as err:
        ffseg.create_model(SMALL, pretrained=path)
    message = str(err.value)
    assert str(path) in message and "ffnet40s_dbbb_mobile" in message
    assert "missing keys" in message and "unexpected keys" in message


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        ffseg.create_model(SMALL, pretrained=tmp_path / "nope.pth")
    bad = tmp_path / "truncated.pth"
    _official_checkpoint(SMALL, bad)
    bad.write_bytes(bad.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        ffseg.create_model(SMALL, pretrained=bad)


def test_backbone_from_classification_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "imagenet.pth"
    state = _official_checkpoint("classification_ffnet40S_BBX_mobile", path)
    seg = ffseg.create_model("ffnet40s_bbb_mobile", pretrained_backbone=path, num_classes=11)
    own = seg.state_dict()
    for key, value in own.items():
        if key.startswith("backbone_model."):
            assert torch.equal(value, state[key]), key
    up_key = "head.layers.1.fam_4.layers.0.weight"
    assert not torch.equal(own[up_key], state[up_key])  # up-head stays freshly initialised


@pytest.mark.parametrize(
    "name",
    ["ffnet40s_dbbb_mobile", "ffnet46ns_ccc_mobile_pre_down", "ffnet18_daac", "ffnet18_aax"],
)
def test_save_load_round_trip_is_bit_exact(tmp_path: Path, name: str) -> None:
    model = ffseg.create_model(name, num_classes=7).eval()
    with torch.no_grad():  # non-trivial BN statistics
        model.train()(torch.randn(2, 3, 128, 128))
    model.eval()
    ffseg.save_pretrained(model, tmp_path / "export")
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = ffseg.load_pretrained(tmp_path / "export").eval()
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    x = torch.randn(1, 3, 128, 160)
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))
    assert loaded.pretrained_cfg == model.pretrained_cfg


def test_load_pretrained_needs_a_saved_folder(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"config\.json"):
        ffseg.load_pretrained(tmp_path)


@pytest.mark.parametrize(
    ("name", "channels", "reductions"),
    [
        ("ffnet54s_bbb_mobile", [64, 128, 192, 320], [4, 8, 16, 32]),
        ("ffnet54s_dbbb_mobile", [64, 128, 192, 320], [8, 16, 32, 64]),
        ("ffnet46ns_cbb_mobile_pre_down", [64, 64, 128, 256], [8, 16, 32, 64]),
        ("ffnet50_aaa", [256, 512, 1024, 2048], [4, 8, 16, 32]),
    ],
)
def test_features_only(name: str, channels: list[int], reductions: list[int]) -> None:
    encoder = ffseg.create_model(name, features_only=True).eval()
    assert [f.num_chs for f in encoder.feature_info] == channels
    assert [f.reduction for f in encoder.feature_info] == reductions
    with torch.inference_mode():
        feats = encoder(torch.randn(1, 3, 256, 256))
    assert [f.shape[1] for f in feats] == channels
    assert [256 // f.shape[-1] for f in feats] == reductions
    assert all(k.startswith(("backbone_model.", "smoothing.")) for k in encoder.state_dict())


def test_features_only_from_a_full_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "full.pth"
    state = _official_checkpoint("segmentation_ffnet54S_BBB_mobile", path)
    encoder = ffseg.create_model("ffnet54s_bbb_mobile", pretrained=path, features_only=True)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_load_model_reads_the_class_count_from_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "camvid.pth"
    model = ffseg.create_model(SMALL, num_classes=11)
    torch.save(model.state_dict(), path)
    for asked in (None, 11):  # inferred, or explicit and matching
        loaded = ffseg.models.load_model(path, name=SMALL, num_classes=asked)
        assert loaded.num_classes == 11 and loaded.pretrained_cfg.num_classes == 11
        for key, value in loaded.state_dict().items():
            assert torch.equal(value, model.state_dict()[key]), key
    with pytest.raises(WeightsError) as err:
        ffseg.models.load_model(path, name=SMALL, num_classes=19)
    message = str(err.value)
    assert str(path) in message and "11-class" in message and "19 classes" in message
    assert "--num-classes 11" in message


def test_save_pretrained_config_rebuilds_the_model(tmp_path: Path) -> None:
    model = ffseg.create_model(SMALL, init="kaiming").eval()
    model.reset_classifier(4)  # not in model_args: the cfg's class count rebuilds it
    ffseg.save_pretrained(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    cfg = config["pretrained_cfg"]
    assert cfg["architecture"] == "ffnet40s_dbbb_mobile" and cfg["num_classes"] == 4
    assert cfg["model_args"] == {"init": "kaiming"}
    loaded = ffseg.models.load_model(tmp_path)
    assert loaded.pretrained_cfg == model.pretrained_cfg and loaded.num_classes == 4
    with pytest.raises(WeightsError, match="--num-classes"):
        ffseg.models.load_model(tmp_path, num_classes=19)


def test_load_pretrained_reads_format_1_folders(tmp_path: Path) -> None:
    model = ffseg.create_model(SMALL, num_classes=3).eval()
    ffseg.save_pretrained(model, tmp_path)
    old = {"ffseg_format": 1, "model_args": {"name": SMALL.lower(), "num_classes": 3}}
    (tmp_path / "config.json").write_text(json.dumps(old))
    loaded = ffseg.load_pretrained(tmp_path)
    assert loaded.num_classes == 3
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
