"""``OnnxModel``: an exported file evaluates like the model it came from."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

import ffseg
from ffseg.data import SyntheticScenes, eval_transforms
from ffseg.deploy.export import export_onnx
from ffseg.deploy.ort import OnnxModel
from ffseg.deploy.runtime import torch_threads
from ffseg.engine.evaluate import evaluate
from ffseg.models import PretrainedCfg


def test_evaluate_runs_an_onnx_model_like_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=5, init="kaiming").eval()
    path = tmp_path / "m.onnx"
    export_onnx(model, path, (64, 80))
    onnx = OnnxModel(path)
    assert isinstance(onnx.pretrained_cfg, PretrainedCfg)
    assert onnx.pretrained_cfg.architecture == "ffnet40s_bbb_mobile"
    assert onnx.pretrained_cfg.input_size == (3, 64, 80) and onnx.num_classes == 5
    cfg = model.pretrained_cfg
    data = SyntheticScenes(n=3, size=(64, 80), transforms=eval_transforms(cfg.mean, cfg.std))
    ours = evaluate(onnx, DataLoader(data, batch_size=2), 5)
    reference = evaluate(model, DataLoader(data, batch_size=2), 5)
    assert ours["num_images"] == 3
    assert ours["aacc"] == pytest.approx(reference["aacc"], abs=1e-3)


def test_broken_sidecar_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.onnx"
    path.write_bytes(b"")
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(ValueError, match=r"x\.json is not valid JSON"):
        OnnxModel(path)


def test_torch_threads_restores_the_count() -> None:
    before = torch.get_num_threads()
    with torch_threads(1) as n:
        assert n == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before
