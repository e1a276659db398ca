"""NNCF int8 of an OpenVINO IR, plain and accuracy-controlled, on a briefly trained model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import ffseg
from ffseg.data import SyntheticScenes, eval_transforms

pytest.importorskip("openvino")
pytest.importorskip("nncf")

from ffseg.deploy.openvino import (
    export_openvino,
    float_layers,
    quantize_and_compare_openvino,
    quantize_openvino,
)

SIZE = (64, 96)


@pytest.fixture(scope="module")
def trained_ir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DataLoader, list]:
    """A model trained for a few iterations on synthetic scenes, exported to IR, with a
    labelled validation loader and calibration arrays."""
    torch.manual_seed(0)
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=5, init="kaiming")
    cfg = model.pretrained_cfg
    tf = eval_transforms(cfg.mean, cfg.std)
    train = DataLoader(SyntheticScenes(n=8, size=SIZE, transforms=tf, seed=0), batch_size=4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(3):
        for images, masks in train:
            logits = F.interpolate(model(images), SIZE, mode="bilinear", align_corners=False)
            loss = F.cross_entropy(logits, masks.long(), ignore_index=255)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    path = tmp_path_factory.mktemp("ov") / "m.xml"
    export_openvino(model, path, SIZE)
    val = SyntheticScenes(n=4, size=SIZE, transforms=tf, seed=1)
    calib = [train.dataset[i][0][None].numpy() for i in range(4)]
    return path, DataLoader(val, batch_size=2), calib


@pytest.mark.slow
def test_nncf_quantize_reports_miou_speed_and_fp32_layers(trained_ir, tmp_path: Path) -> None:
    fp32, val, calib = trained_ir
    out = tmp_path / "m_int8.xml"
    report = quantize_and_compare_openvino(fp32, out, calib, val, runs=2, threads=1)
    assert out.is_file() and out.with_suffix(".bin").is_file()
    for r in (report.fp32, report.int8):
        assert 0.0 <= r.miou <= 1.0 and r.num_images == 4 and r.median_ms > 0
    assert report.fp32.miou > 0.2  # trained, not random
    assert abs(report.int8.miou - report.fp32.miou) < 0.1
    assert "mIoU change" in report.summary() and "layers kept in fp32" in report.summary()
    import openvino

    quantized = openvino.Core().read_model(str(out))
    types = {op.get_type_name() for op in quantized.get_ordered_ops()}
    assert "FakeQuantize" in types
    assert float_layers(quantized) == report.float_layers
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["quantization"]["tool"] == "nncf" and meta["num_classes"] == 5


@pytest.mark.slow
def test_nncf_accuracy_control_keeps_the_drop(trained_ir, tmp_path: Path) -> None:
    fp32, val, calib = trained_ir
    out = tmp_path / "m_ac.xml"
    report = quantize_and_compare_openvino(fp32, out, calib, val, max_drop=1.0, runs=2)
    assert report.max_drop == 1.0
    assert (report.fp32.miou - report.int8.miou) * 100 <= 1.0 + 1e-6
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["quantization"]["max_drop"] == 1.0
    assert "(max drop 1)" in report.summary()


def test_quantize_openvino_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.xml"):
        quantize_openvino(tmp_path / "nope.xml", tmp_path / "q.xml", [])
