"""Shapes and precisions: dynamic ONNX / OpenVINO at three sizes and two batch sizes, float16
ONNX with float32 inputs/outputs, and the onnxslim simplification, each checked for parity."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ffseg
from ffseg.deploy.export import export_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

NAME = "ffnet40s_bbb_mobile"


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return ffseg.create_model(NAME, num_classes=5, init="kaiming").eval()


def _session(path: Path):
    from ffseg.deploy.ort import ort_session

    return ort_session(path, threads=1)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".onnx", ".xml"])
def test_dynamic_export_verified_at_three_sizes_two_batches(model, suffix, tmp_path) -> None:
    if suffix == ".xml" and importlib.util.find_spec("openvino") is None:
        pytest.skip("openvino is not installed")
    report = export_model(model, tmp_path / f"d{suffix}", (64, 96), dynamic=True)
    shapes = report.checked_shapes
    assert len({tuple(s[-2:]) for s in shapes}) == 3 and len({s[0] for s in shapes}) == 2
    meta = json.loads((tmp_path / "d.json").read_text())
    assert meta["dynamic_shapes"] is True
    from ffseg.deploy.artifacts import load_artifact

    loaded = load_artifact(tmp_path / f"d{suffix}", threads=1)
    x = torch.randn(1, 3, 96, 160)  # a fourth size the export never saw
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_fp16_onnx_keeps_float32_io_and_agrees(model, tmp_path: Path) -> None:
    import onnx

    path = tmp_path / "h.onnx"
    report = export_model(model, path, (64, 96), fp16=True)
    graph = onnx.load(str(path)).graph
    f32, f16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    assert graph.input[0].type.tensor_type.elem_type == f32
    assert graph.output[0].type.tensor_type.elem_type == f32
    assert any(init.data_type == f16 for init in graph.initializer)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        ref = model(x).numpy()
    out = _session(path).run(None, {"input": x.numpy()})[0]
    assert out.dtype == np.float32
    assert np.abs(out - ref).max() <= 1e-2 * max(1.0, np.abs(ref).max())
    assert (out.argmax(1) == ref.argmax(1)).mean() >= 0.99 and report.argmax_agreement >= 0.99
    assert json.loads(path.with_suffix(".json").read_text())["precision"] == "fp16"


@pytest.mark.slow
def test_onnxslim_simplification_keeps_parity(model, tmp_path: Path) -> None:
    pytest.importorskip("onnxslim")
    path = tmp_path / "s.onnx"
    report = export_model(model, path, (64, 96), simplify=True)
    assert report.max_abs_diff <= 1e-4 * 10 and report.argmax_agreement >= 0.999
    assert json.loads(path.with_suffix(".json").read_text())["simplified"] is True
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        ref = model(x).numpy()
    np.testing.assert_allclose(_session(path).run(None, {"input": x.numpy()})[0], ref, atol=1e-4)
