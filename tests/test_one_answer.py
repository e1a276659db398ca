"""One answer per model: every verb runs a trained run the same way (issue 20's acceptance).

A tiny run whose native input size (64x96, its recipe's crop and ``eval.resize``) differs from
the size its data is stored at (80x120) is evaluated by training, ``val``, ``quantize``'s fp32
model and ``Segmenter``; the four mIoUs must agree, and PyTorch predict, ONNX predict (static
and ``--dynamic`` exports) and ``Segmenter`` must write the same masks.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ffseg
from ffseg.cli import main
from ffseg.inference.run_data import run_data
from ffseg.metrics import ConfusionMatrix

pytestmark = pytest.mark.slow

STORED, NATIVE = (80, 120), (64, 96)
RUN = [
    "--set",
    f"data.train_kwargs={{n: 8, size: [{STORED[0]}, {STORED[1]}], seed: 0}}",
    "--set",
    f"data.val_kwargs={{n: 3, size: [{STORED[0]}, {STORED[1]}], seed: 1}}",
    "--set",
    f"data.crop_size=[{NATIVE[0]}, {NATIVE[1]}]",
    "--set",
    f"eval.resize=[{NATIVE[0]}, {NATIVE[1]}]",
    "--set",
    "data.batch_size=4",
    "--set",
    "train.iters=6",
    "--set",
    "log.progress=false",
    "--set",
    "log.tensorboard=false",
    "--set",
    "log.overlays=0",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    assert main(["train", "--config", "demo", "--output-dir", str(out), "--name", "r", *RUN]) == 0
    return out / "r"


def _training_miou(run: Path) -> float:
    with (run / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["miou"])


def _val_images(run: Path, folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The run's validation images (RGB uint8, as stored) and masks, also written as PNGs."""
    data = run_data(run)
    assert data is not None
    folder.mkdir()
    samples = []
    for i, (image, mask) in enumerate(data.dataset()):
        array = np.asarray(image).transpose(1, 2, 0) if np.asarray(image).ndim == 3 else image
        array = np.ascontiguousarray(np.asarray(array, np.uint8))
        Image.fromarray(array).save(folder / f"{i}.png")
        samples.append((array, np.asarray(mask, np.int64)))
    return samples


def _masks(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


def test_every_verb_gives_one_answer(run: Path, tmp_path: Path, capsys) -> None:
    trained = _training_miou(run)
    config = json.loads((run / "config.json").read_text())["pretrained_cfg"]
    assert config["architecture"] == "ffnet22s_dbbb_mobile"  # named by what was built
    assert config["input_size"][1:] == list(NATIVE)

    # val on the run folder alone: the run's own validation data, said in one line
    results = tmp_path / "val.json"
    assert main(["val", "--weights", str(run), "--results-file", str(results)]) == 0
    out = capsys.readouterr().out
    assert "the run's own synthetic data" in out and "ffnet22s_dbbb_mobile" in out
    val = json.loads(results.read_text())
    assert val["input_size"] == list(NATIVE) and val["model"] == "ffnet22s_dbbb_mobile"
    assert val["miou"] == pytest.approx(trained, abs=1e-6)
    # data flags override the run's own data
    assert main(["val", "--weights", str(run), "--data", "synthetic", "--num-images", "1"]) == 0
    assert "the run's own" not in capsys.readouterr().out

    # quantize's fp32 figure (the exported ONNX model, scored the same way)
    report = tmp_path / "quantize_report.json"  # q.json is the int8 sidecar
    quantized = tmp_path / "q.onnx"
    args = ["quantize", "--weights", str(run / "best.safetensors"), "--out", str(quantized)]
    assert main([*args, "--num-images", "2", "--runs", "2", "--report", str(report)]) == 0
    assert json.loads(report.read_text())["fp32"]["miou"] == pytest.approx(trained, abs=1e-6)

    # the Segmenter, loaded from the run folder, scored at the labels' stored size
    segmenter = ffseg.Segmenter(str(run))
    samples = _val_images(run, tmp_path / "images")
    cm = ConfusionMatrix(config["num_classes"], 255)
    seg_masks = {}
    for i, (image, mask) in enumerate(samples):
        pred = segmenter(image).mask
        assert pred.shape == STORED
        seg_masks[f"{i}.png"] = pred.numpy()
        cm.update(pred[None], torch.from_numpy(mask)[None])
    assert cm.compute()["miou"] == pytest.approx(trained, abs=1e-6)

    # predict: PyTorch, static ONNX and dynamic ONNX write the Segmenter's masks
    static, dynamic = tmp_path / "static.onnx", tmp_path / "dynamic.onnx"
    assert main(["export", "--weights", str(run), "--out", str(static)]) == 0
    assert main(["export", "--weights", str(run), "--out", str(dynamic), "--dynamic"]) == 0
    images = str(tmp_path / "images")
    for name, flags in (
        ("torch", ["--weights", str(run)]),
        ("static", ["--onnx", str(static)]),
        ("dynamic", ["--onnx", str(dynamic)]),
    ):
        out_dir = tmp_path / name
        assert main(["predict", *flags, "--source", images, "--out", str(out_dir)]) == 0
        written = _masks(out_dir)
        assert sorted(written) == sorted(seg_masks), name
        agree = np.mean([np.mean(written[k] == seg_masks[k]) for k in seg_masks])
        assert agree >= 0.999, (name, agree)
