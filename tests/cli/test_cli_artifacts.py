"""CLI: OpenVINO export/quantize/bench, and every exported artifact through ``predict``, ``val``
and ``bench``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ffseg.cli import main

SMALL = ["--model", "ffnet40s_bbb_mobile", "--num-classes", "11"]
SIZE = ["--size", "64", "96"]


def _has(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


@pytest.mark.slow
def test_every_artifact_through_predict_and_val(tmp_path: Path, camvid_root: Path, capsys) -> None:
    suffixes = [".pt2", ".ts"]
    suffixes += [".onnx"] if _has("onnxruntime", "onnxscript") else []
    suffixes += [".xml"] if _has("openvino") else []
    artifacts = []
    for suffix in suffixes:
        out = tmp_path / f"m{suffix}"
        assert main(["export", *SMALL, "--out", str(out), *SIZE]) == 0
        artifacts.append(out)
    if ".onnx" in suffixes:  # an int8 model scores like any other
        from ffseg.deploy.quantize import quantize_onnx

        rng = np.random.default_rng(0)
        calib = [rng.standard_normal((1, 3, 64, 96), dtype=np.float32) for _ in range(2)]
        artifacts.append(quantize_onnx(tmp_path / "m.onnx", tmp_path / "m_int8.onnx", calib))
    src = tmp_path / "imgs"
    src.mkdir()
    name = sorted(p.name for p in (camvid_root / "val").iterdir())[0]
    Image.open(camvid_root / "val" / name).resize((96, 64)).save(src / name)
    capsys.readouterr()
    for artifact in artifacts:
        out = tmp_path / f"pred_{artifact.stem}{artifact.suffix[1:]}"
        argv = ["predict", "--weights", str(artifact), "--source", str(src), "--out", str(out)]
        assert main(argv) == 0, artifact
        mask = np.asarray(Image.open(next(out.iterdir())))
        assert mask.shape == (64, 96) and mask.max() < 11
        results = tmp_path / f"val_{artifact.name}.json"
        argv = ["val", "--data", "camvid", "--data-root", str(camvid_root), "--limit", "1"]
        argv += ["--weights", str(artifact), "--results-file", str(results)]
        assert main(argv) == 0, artifact
        assert 0.0 <= json.loads(results.read_text())["miou"] <= 1.0
        table = tmp_path / f"bench_{artifact.name}.json"
        argv = ["bench", "--weights", str(artifact), "--runs", "2", "--warmup", "1"]
        assert main([*argv, "--out", str(table)]) == 0, artifact
        (row,) = json.loads(table.read_text())["results"]
        assert row["error"] == "" and row["median_ms"] > 0 and row["height"] == 64


@pytest.mark.slow
@pytest.mark.skipif(not _has("openvino", "nncf"), reason="needs the openvino extra")
def test_export_and_quantize_openvino(tmp_path: Path, camvid_root: Path, capsys) -> None:
    xml = tmp_path / "m.xml"
    assert main(["export", *SMALL, "--out", str(xml), *SIZE, "--dynamic"]) == 0
    assert "(openvino, input 64x96)" in capsys.readouterr().out
    assert xml.with_suffix(".bin").is_file() and xml.with_suffix(".json").is_file()
    out = tmp_path / "q" / "m_int8.xml"
    argv = ["quantize", *SMALL, "--backend", "openvino", "--out", str(out), *SIZE]
    argv += ["--data", "camvid", "--data-root", str(camvid_root), "--num-calib", "2"]
    argv += ["--num-val", "2", "--runs", "2", "--max-drop", "1.0"]
    assert main([*argv, "--report", str(tmp_path / "q.json")]) == 0
    printed = capsys.readouterr().out
    assert "OpenVINO speed-up" in printed and "layers kept in fp32" in printed
    report = json.loads((tmp_path / "q.json").read_text())
    assert report["max_drop"] == 1.0 and report["fp32"]["num_images"] == 2
    assert (report["fp32"]["miou"] - report["int8"]["miou"]) * 100 <= 1.0 + 1e-6


def test_flag_mismatches_fail_fast(tmp_path: Path, capsys) -> None:
    argv = ["export", *SMALL, "--out", str(tmp_path / "m.pt2"), "--fp16"]
    assert main(argv) == 2
    assert "--fp16 and --simplify are for ONNX" in capsys.readouterr().err
    argv = ["quantize", *SMALL, "--out", str(tmp_path / "q.onnx"), "--max-drop", "-1"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--data", "camvid"])
    assert exc.value.code == 2 and "argument --max-drop: -1 is below 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.skipif(not _has("openvino", "nncf"), reason="needs the openvino extra")
def test_bench_openvino_backend(tmp_path: Path) -> None:
    import csv

    out = tmp_path / "r.csv"
    argv = ["bench", "--model", "ffnet40s_bbb_mobile", "--size", "64", "96", "--runs", "2"]
    argv += ["--warmup", "1", "--backend", "raw", "--backend", "openvino", "--threads", "1"]
    argv += ["--precision", "fp32", "--precision", "int8", "--out", str(out)]
    assert main(argv) == 0
    rows = {(r["backend"], r["precision"]): r for r in csv.DictReader(out.open())}
    assert set(rows) == {("raw", "fp32"), ("openvino", "fp32"), ("openvino", "int8")}
    for r in rows.values():
        assert r["error"] == "" and float(r["median_ms"]) > 0
    assert float(rows["openvino", "fp32"]["max_abs_diff"]) < 1e-3
