"""INT8 settings, the per-node sensitivity report and the warning when int8 misses its target,
on a hand-built four-node ONNX graph (fast) and one small zoo model through the CLI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from ffseg.deploy.quantize import QuantizeComparison, QuantizeResult, quantize_onnx  # noqa: E402
from ffseg.deploy.sensitivity import layer_sensitivity  # noqa: E402

H, W = 16, 24


def _tiny_graph(path: Path, classes: int = 4) -> Path:
    """conv 3->8 3x3, relu, conv 8->classes 1x1 (the classifier), bilinear x2 resize."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.normal(0, 0.5, (classes, 8, 1, 1)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.zeros(classes, np.float32), "b2"),
        numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="classifier"),
        helper.make_node("Resize", ["c2", "", "scales"], ["output"], name="up", mode="linear"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, H, W])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, classes, 2 * H, 2 * W])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def _arrays(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, (1, 3, H, W)).astype(np.float32) for _ in range(n)]


def _float_inputs(path: Path, node: str) -> bool:
    """Whether ``node`` of the quantized graph reads its weight straight from an initializer."""
    graph = onnx.load(str(path)).graph
    inits = {i.name for i in graph.initializer}
    (n,) = [n for n in graph.node if n.name == node]
    return n.input[1] in inits


def test_sensitivity_reports_every_node_and_the_kernel_check(tmp_path: Path) -> None:
    fp32 = _tiny_graph(tmp_path / "tiny.onnx")
    before = fp32.read_bytes()
    calls: list[tuple[int, int]] = []
    report = layer_sensitivity(
        fp32, _arrays(3, 0), _arrays(2, 1), progress=lambda i, n: calls.append((i, n))
    )
    names = {row.name for row in report.rows}
    assert {"stem", "classifier", "up", "all Conv (2)"} <= names
    assert calls[-1] == (len(report.rows), len(report.rows))
    gains = [row.gain for row in report.rows]
    assert gains == sorted(gains, reverse=True)
    for row in report.rows:
        assert 0.0 <= row.agreement <= 1.0 and row.rel_error >= 0.0
        assert row.gain == pytest.approx((row.agreement - report.all_int8.agreement) * 100)
    # every conv in float leaves only the resize quantized: closer to fp32 than all-int8
    (all_convs,) = [r for r in report.rows if r.name == "all Conv (2)"]
    assert all_convs.rel_error < report.all_int8.rel_error
    text = report.summary(top=2)
    assert "U8U8" in text and "more rows" in text
    assert json.loads(json.dumps(report.to_dict()))["images"] == 2
    assert fp32.read_bytes() == before  # the input graph is untouched


def test_excluded_nodes_stay_float_and_unknown_names_fail(tmp_path: Path) -> None:
    fp32 = _tiny_graph(tmp_path / "tiny.onnx")
    out = quantize_onnx(fp32, tmp_path / "q.onnx", _arrays(2, 0), exclude_nodes=["classifier"])
    assert _float_inputs(out, "classifier") and not _float_inputs(out, "stem")
    with pytest.raises(ValueError, match=r"'head' is not a node.*--sensitivity"):
        quantize_onnx(fp32, tmp_path / "q2.onnx", _arrays(2, 0), exclude_nodes=["head"])
    assert not (tmp_path / "q2.onnx").exists()


def _result(miou: float) -> QuantizeResult:
    return QuantizeResult("m.onnx", miou, 0.9, 101, 10.0)


def test_missed_target_warns_with_the_figures() -> None:
    comparison = QuantizeComparison(_result(0.417), _result(0.270), [360, 480])
    assert comparison.miou_drop == pytest.approx(14.7)
    message = comparison.missed_target(1.0)
    assert message is not None
    assert "14.70" in message and "41.70 -> 27.00" in message and "1.00" in message
    assert "--sensitivity" in message
    assert comparison.missed_target(15.0) is None
    kept = QuantizeComparison(_result(0.417), _result(0.412), [360, 480])
    assert kept.missed_target(1.0) is None


@pytest.mark.slow
def test_cli_quantize_sensitivity_and_warning(
    tmp_path: Path, camvid_root: Path, capsys, caplog
) -> None:
    from ffseg.cli import main

    fp32 = _tiny_graph(tmp_path / "tiny.onnx", classes=11)
    sidecar = dict(model="tiny", input_size=[H, W], mean=[0.5] * 3, std=[0.25] * 3)
    sidecar.update(output="logits", num_classes=11, output_stride=1, dynamic_shapes=False)
    fp32.with_suffix(".json").write_text(json.dumps(sidecar))
    out, report = tmp_path / "tiny_int8.onnx", tmp_path / "q.json"
    argv = ["quantize", "--onnx", str(fp32), "--out", str(out), "--data", "camvid"]
    argv += ["--data-root", str(camvid_root), "--num-calib", "2", "--num-val", "2"]
    argv += ["--runs", "1", "--sensitivity", "1", "--max-drop", "0", "--report", str(report)]
    with caplog.at_level(logging.WARNING):
        assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "U8U8 kernels" in printed and "left in float" in printed and "speed-up" in printed
    data = json.loads(report.read_text())
    drop = (data["fp32"]["miou"] - data["int8"]["miou"]) * 100
    assert data["max_drop"] == 0 and data["target_met"] is (drop <= 0)
    assert data["sensitivity"]["images"] == 1 and len(data["sensitivity"]["rows"]) == 4
    warned = any("more than the target 0.00" in r.message for r in caplog.records)
    assert warned is (drop > 0)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["quantization"]["reduce_range"] is True
