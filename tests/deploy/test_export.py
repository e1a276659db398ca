"""ONNX / TorchScript / torch.export artifacts reproduce PyTorch, and failures are loud."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ffseg
from ffseg.deploy.export import (
    ExportVerificationError,
    SegmentationExportWrapper,
    export_onnx,
    export_program,
    export_torchscript,
)
from ffseg.deploy.fuse import prepare_for_inference
from ffseg.deploy.ort import ort_session
from ffseg.deploy.ties import count_near_ties

#: One FFNet per structural variant (stems A/B/C, basic/bottleneck, d-stride, pre-down, heads
#: A/B/C/X, bilinear and nearest): the remaining FFNets share these graphs' operators.
FFNET_SUBSET = [
    "ffnet40s_bbb_mobile",
    "ffnet40s_bcc_mobile_pre_down",
    "ffnet40s_dbbb_mobile",
    "ffnet46ns_ccc_mobile",
    "ffnet46n_cbb",
    "ffnet34_abb",
    "ffnet50_aaa",
    "ffnet40s_bbx_mobile",
]
ZOO = ffseg.list_models(exclude_filters="ffnet*")


def _size(model: torch.nn.Module) -> tuple[int, int]:
    min_h, min_w = getattr(model.pretrained_cfg, "min_input_size", (32, 32))
    return max(64, min_h), max(128, min_w)


@pytest.fixture(scope="module", autouse=True)
def _flush_denormals():
    """Flush denormals (random official init produces them) on the single compute thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)
    torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("name", FFNET_SUBSET + ZOO)
def test_onnx_parity_registry(name: str, tmp_path: Path) -> None:
    model = ffseg.create_model(name).eval()
    size = _size(model)
    report = export_onnx(model, tmp_path / f"{name}.onnx", size)
    assert report.argmax_agreement >= 0.999  # export_onnx also enforced max abs diff
    # independent check: a fresh session on a new input against the unfolded model
    x = torch.randn(1, 3, *size)
    while model.argmax_switches and count_near_ties(model, x):  # see ffseg.deploy.ties
        x = torch.randn(1, 3, *size)
    out = ort_session(report.path).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    scale = max(1.0, float(np.abs(ref).max()))
    assert np.abs(out - ref).max() <= 1e-4 * scale, name


def test_onnx_outputs_resize_and_sidecar(tmp_path: Path) -> None:
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=11, init="kaiming").eval()
    path = tmp_path / "m.onnx"
    report = export_onnx(model, path, (64, 96), output="argmax", resize_to_input=True)
    labels = ort_session(path).run(None, {"input": np.zeros((1, 3, 64, 96), np.float32)})[0]
    assert labels.shape == (1, 64, 96) and labels.dtype == np.int64
    assert report.argmax_agreement >= 0.999
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["output"] == "argmax" and meta["num_classes"] == 11
    assert meta["input_size"] == [64, 96] and len(meta["palette"]) == 11
    assert meta["mean"] == list(model.pretrained_cfg.mean)
    assert meta["verification"]["argmax_agreement"] >= 0.999
    probs_path = tmp_path / "p.onnx"
    export_onnx(model, probs_path, (64, 96), output="probs")
    probs = ort_session(probs_path).run(None, {"input": np.ones((1, 3, 64, 96), np.float32)})[0]
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_onnx_dynamic_shapes(tmp_path: Path) -> None:
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=5, init="kaiming").eval()
    report = export_onnx(model, tmp_path / "d.onnx", (64, 96), dynamic=True)
    assert len({tuple(s) for s in report.checked_shapes}) >= 2  # verified at two sizes
    session = ort_session(report.path)
    x = torch.randn(2, 3, 96, 160)
    with torch.no_grad():
        ref = model(x).numpy()
    np.testing.assert_allclose(session.run(None, {"input": x.numpy()})[0], ref, atol=1e-4)


def test_failed_verification_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=5, init="kaiming").eval()
    import ffseg.deploy.export_common as export_mod

    real_check = export_mod.compare_outputs
    monkeypatch.setattr(
        export_mod, "compare_outputs", lambda r, c: (real_check(r, c)[0] + 1.0, 0.5)
    )
    path = tmp_path / "bad.onnx"
    with pytest.raises(ExportVerificationError, match=r"bad\.onnx.*does not match"):
        export_onnx(model, path, (64, 96))
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path: Path) -> None:
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=5).eval()
    with pytest.raises(ValueError, match="opset"):
        export_onnx(model, tmp_path / "m.onnx", (64, 96), opset=13)
    with pytest.raises(ValueError, match="smaller than the minimum"):
        export_onnx(model, tmp_path / "m.onnx", (8, 8))
    with pytest.raises(ValueError, match="output must be one of"):
        SegmentationExportWrapper(model, output="mask")


def test_torchscript_and_torch_export(tmp_path: Path) -> None:
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=5, init="kaiming").eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        ref = SegmentationExportWrapper(prepare_for_inference(model), "probs", True)(x)
    ts = export_torchscript(
        model, tmp_path / "m.ts", (64, 96), output="probs", resize_to_input=True
    )
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(ts.path)(x), ref, atol=1e-5, rtol=1e-4)
    ep = export_program(model, tmp_path / "m.pt2", (64, 96), output="probs", resize_to_input=True)
    with torch.no_grad():
        out = torch.export.load(ep.path).module()(x)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
