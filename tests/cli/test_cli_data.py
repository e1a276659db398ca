"""``ffseg check-data`` and ``ffseg val`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ffseg.cli import main
from ffseg.data import labelid_to_trainid
from ffseg.models import create_model
from tests.data.fixtures import make_camvid_like, make_cityscapes, save_png

MODEL = "ffnet40s_dbbb_mobile"


@pytest.mark.slow
def test_check_data_passes_on_real_camvid(camvid_root: Path, capsys) -> None:
    assert (
        main(["check-data", "--data", "camvid", "--root", str(camvid_root), "--workers", "2"]) == 0
    )
    out = capsys.readouterr().out
    assert "camvid/train: 367 samples (image sizes HxW: 360x480: 367)" in out
    assert "camvid/val: 101 samples" in out and "no problems found" in out and out.endswith("OK\n")


def test_check_data_reports_every_problem(tmp_path: Path, capsys) -> None:
    root = make_camvid_like(tmp_path / "camvid", n=4)
    save_png(root / "trainannot/0.png", np.full((24, 32), 40, np.uint8))  # bad value
    save_png(root / "trainannot/1.png", np.zeros((12, 32), np.uint8))  # size mismatch
    (root / "train/2.png").write_bytes(b"\x89PNG broken")  # unreadable image
    code = main(["check-data", "--data", "camvid", "--root", str(root), "--split", "train"])
    out = capsys.readouterr().out
    assert code == 1 and "3 problem(s):" in out and out.rstrip().endswith("fix the problems above")
    assert "trainannot/0.png' contains value(s) 40 that map to no class" in out
    assert "(768 pixels)" in out
    assert "size mismatch: mask" in out and "trainannot/1.png' is 12x32" in out
    assert "Cannot read image file" in out and "train/2.png" in out


def test_check_data_bad_root_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["check-data", "--data", "camvid", "--root", str(tmp_path / "no")]) == 2
    assert "CamVid root" in capsys.readouterr().err


@pytest.mark.slow
def test_val_on_real_camvid_with_weights_file(camvid_root: Path, tmp_path: Path, capsys) -> None:
    weights = tmp_path / "w.pth"
    torch.save(create_model(MODEL, num_classes=11).state_dict(), weights)
    results = tmp_path / "out" / "results.json"
    args = ["val", "--model", MODEL, "--weights", str(weights), "--data", "camvid",
            "--root", str(camvid_root), "--limit", "1", "--results-file", str(results),
            "--save-preds", str(tmp_path / "preds")]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    data = json.loads(results.read_text())
    assert data["num_images"] == 1 and len(data["iou"]) == 11 and data["weights"] == str(weights)
    assert f"mIoU {100 * data['miou']:.2f}" in out and "bicyclist" in out
    pred = np.asarray(Image.open(tmp_path / "preds/trainIds/0016E5_07959.png"))
    assert pred.shape == (360, 480) and pred.max() < 11
    assert np.asarray(Image.open(tmp_path / "preds/color/0016E5_07959.png")).shape == (360, 480, 3)
    assert not list(results.parent.glob(".*"))  # no temporary files left


def test_val_refuses_weights_for_other_class_count(tmp_path: Path, capsys) -> None:
    root = make_camvid_like(tmp_path / "camvid", size=(32, 32))
    weights = tmp_path / "w19.pth"
    torch.save(create_model(MODEL, num_classes=19).state_dict(), weights)
    args = ["val", "--model", MODEL, "--weights", str(weights), "--data", "camvid",
            "--root", str(root)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "19-class" in err and "11 classes" in err and "w19.pth" in err


def test_val_cityscapes_writes_label_id_predictions(tmp_path: Path) -> None:
    root = make_cityscapes(tmp_path / "cs", per_city=1, size=(64, 128), splits=("val",))
    preds = tmp_path / "preds"
    args = ["val", "--model", MODEL, "--data", "cityscapes", "--root", str(root),
            "--batch-size", "2", "--save-preds", str(preds), "--mode", "slide",
            "--crop-size", "64", "64", "--stride", "32", "48"]  # fmt: skip
    assert main(args) == 0
    for train_path in sorted((preds / "trainIds").glob("*.png")):
        train_ids = np.asarray(Image.open(train_path))
        label_ids = np.asarray(Image.open(preds / "labelIds" / train_path.name))
        np.testing.assert_array_equal(labelid_to_trainid(label_ids), train_ids)
    assert len(list((preds / "labelIds").glob("*_000000_000019.png"))) == 2


def test_val_imagenet_top_k(tmp_path: Path, capsys) -> None:
    for cls in ("cat", "dog"):
        for i in range(3):
            save_png(tmp_path / "val" / cls / f"{i}.png", np.full((40, 50, 3), 60 * i, np.uint8))
    results = tmp_path / "r.json"
    args = ["val", "--model", "ffnet40s_bbx_mobile", "--data", "imagenet", "--root",
            str(tmp_path), "--batch-size", "4", "--results-file", str(results)]  # fmt: skip
    assert main(args) == 0
    data = json.loads(results.read_text())
    assert data["num_images"] == 6 and data["top5"] == 1.0  # 2 classes: always in the top 5
    assert f"top-1 {100 * data['top1']:.2f}" in capsys.readouterr().out
