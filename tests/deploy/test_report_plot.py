"""The Pareto chart says which mIoU and which latency it plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ffseg.deploy.bench import BenchResult
from ffseg.deploy.report import _latency_label, _marker_label, miou_label, pareto_plot


def _results() -> list[BenchResult]:
    rows = []
    for model, ms in (("ffnet40s_bbb_mobile", 10.0), ("ddrnet23_slim", 20.0)):
        rows.append(BenchResult(model, 512, 1024, 1, "raw", "fp32", 2, median_ms=ms))
        int8 = BenchResult(model, 512, 1024, 1, "onnxruntime", "int8", 2, median_ms=ms / 2)
        int8.argmax_agreement = 0.955
        rows.append(int8)
    return rows


def test_axis_labels_name_the_miou_source_and_the_latency_setting(tmp_path: Path) -> None:
    names = [r.model for r in _results()]
    assert "published" in miou_label(names) and "cityscapes val" in miou_label(names)
    measured = tmp_path / "mine.json"
    measured.write_text(json.dumps({names[0]: 50.0}))
    assert "measured: mine.json" in miou_label(names, measured)
    assert "input 512x1024" in _latency_label(_results()) and "batch 1" in _latency_label(
        _results()
    )
    int8 = [r for r in _results() if r.precision == "int8"]
    assert "95.5%" in _marker_label("onnxruntime", "int8", int8)


def test_pareto_plot_has_one_series_per_backend_precision(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    miou = {"ffnet40s_bbb_mobile": 79.7, "ddrnet23_slim": 77.8}
    path = pareto_plot(_results(), tmp_path / "p.png", miou, miou_axis="mIoU X")
    assert path.stat().st_size > 0
