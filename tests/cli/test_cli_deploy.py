"""CLI smoke tests: ``ffseg bench``, ``export``, ``quantize`` and ``predict``, plus bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ffseg.cli import main
from ffseg.deploy.bench import measure_peak

SMALL = ["--model", "ffnet40s_bbb_mobile", "--num-classes", "11"]


def test_bench_writes_csv_json_md_and_plot(tmp_path: Path, capsys) -> None:
    outs = [tmp_path / "r.csv", tmp_path / "r.json", tmp_path / "r.md"]
    miou = tmp_path / "miou.json"
    miou.write_text(json.dumps({"ffnet40s_bbb_mobile": 70.0}))
    argv = ["bench", "--model", "ffnet40s_bbb_mobile", "--size", "64", "96", "--runs", "3"]
    argv += ["--warmup", "1", "--backend", "raw", "--backend", "eager"]
    argv += ["--backend", "channels_last"]
    argv += ["--precision", "fp32", "--precision", "bf16", "--threads", "1"]
    argv += [a for o in outs for a in ("--out", str(o))]
    argv += ["--plot", str(tmp_path / "pareto.png"), "--miou-file", str(miou)]
    assert main(argv) == 0
    rows = list(csv.DictReader(outs[0].open()))
    assert {(r["backend"], r["precision"]) for r in rows} == {
        (b, p) for b in ("raw", "eager", "channels_last") for p in ("fp32", "bf16")
    }
    for r in rows:
        assert r["error"] == "" and float(r["median_ms"]) > 0 and int(r["runs"]) == 3
        if r["precision"] == "fp32":
            assert float(r["max_abs_diff"]) < 1e-3 and float(r["argmax_agreement"]) > 0.99
    data = json.loads(outs[1].read_text())
    assert data["meta"]["threads"] == 1 and "torch" in data["meta"]
    assert "| ffnet40s_bbb_mobile |" in outs[2].read_text()
    assert Image.open(tmp_path / "pareto.png").size[0] > 100
    assert "channels_last" in capsys.readouterr().out


def test_bench_onnxruntime_int8_with_real_calibration(tmp_path: Path, camvid_root: Path) -> None:
    argv = ["bench", "--model", "ffnet40s_bbb_mobile", "--size", "64", "96", "--runs", "2"]
    argv += ["--warmup", "1", "--backend", "onnxruntime", "--precision", "fp32"]
    argv += ["--precision", "int8", "--data", "camvid", "--data-root", str(camvid_root)]
    argv += ["--num-images", "2", "--out", str(tmp_path / "r.json")]
    assert main(argv) == 0
    rows = {r["precision"]: r for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    assert rows["fp32"]["error"] == "" and rows["int8"]["error"] == ""
    assert rows["fp32"]["max_abs_diff"] < 1e-3
    assert rows["int8"]["median_ms"] > 0


def test_peak_is_positive() -> None:
    threads = torch.get_num_threads()
    peak = measure_peak(
        1, runs=2, dtypes=("fp32",), gemm_size=256, conv_hw=(16, 16), conv_channels=32
    )
    assert set(peak) == {"gemm_fp32", "conv3x3_fp32"} and min(peak.values()) > 0
    assert torch.get_num_threads() == threads  # the thread count is restored


def test_export_onnx_torchscript_and_pt2(tmp_path: Path, camvid_root: Path, capsys) -> None:
    onnx = tmp_path / "m.onnx"
    argv = ["export", *SMALL, "--out", str(onnx), "--size", "64", "96", "--output", "argmax"]
    argv += ["--resize-to-input", "--verify-data", "camvid", "--data-root", str(camvid_root)]
    assert main([*argv, "--verify-images", "2"]) == 0
    assert "argmax agreement" in capsys.readouterr().out
    meta = json.loads(onnx.with_suffix(".json").read_text())
    assert meta["verification"]["checked_shapes"] == [[1, 64, 96]] * 3
    for suffix in (".ts", ".pt2"):
        out = tmp_path / f"m{suffix}"
        assert main(["export", *SMALL, "--out", str(out), "--size", "64", "96"]) == 0
        assert out.stat().st_size > 0


def test_quantize_reports_miou_and_latency(tmp_path: Path, camvid_root: Path, capsys) -> None:
    out = tmp_path / "q" / "m_int8.onnx"
    argv = ["quantize", *SMALL, "--out", str(out), "--size", "64", "96", "--data", "camvid"]
    argv += ["--data-root", str(camvid_root), "--num-calib", "2", "--num-val", "2", "--runs", "2"]
    argv += ["--exclude-first-conv", "--exclude-classifier", "--report", str(tmp_path / "q.json")]
    assert main(argv) == 0
    report = json.loads((tmp_path / "q.json").read_text())
    for key in ("fp32", "int8"):
        assert 0.0 <= report[key]["miou"] <= 1.0 and report[key]["num_images"] == 2
        assert report[key]["median_ms"] > 0
    assert "speed-up" in capsys.readouterr().out
    meta = json.loads(out.with_suffix(".json").read_text())
    assert len(meta["quantization"]["excluded_nodes"]) == 2
    import onnx

    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_predict_dir_and_onnx(tmp_path: Path, camvid_root: Path, capsys) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    for name in sorted(p.name for p in (camvid_root / "val").iterdir())[:2]:
        Image.open(camvid_root / "val" / name).resize((120, 90)).save(src / name)
    out = tmp_path / "pred"
    assert main(["predict", *SMALL, "--source", str(src), "--out", str(out), "--overlay"]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 4 and sum(f.endswith("_overlay.png") for f in files) == 2
    mask = np.asarray(Image.open(out / files[0]))
    assert mask.shape == (90, 120) and mask.max() < 11
    assert "latency" in capsys.readouterr().out
    onnx = tmp_path / "m.onnx"
    assert main(["export", *SMALL, "--out", str(onnx), "--size", "90", "120"]) == 0
    out2 = tmp_path / "pred_onnx"
    assert main(["predict", "--onnx", str(onnx), "--source", str(src), "--out", str(out2)]) == 0
    assert sorted(p.name for p in out2.iterdir()) == [f for f in files if "_overlay" not in f]


def test_bad_input_errors(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.pth"
    argv = ["export", *SMALL, "--weights", str(missing), "--out", str(tmp_path / "m.onnx")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not found" in err and str(missing) in err
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    argv = ["predict", *SMALL, "--weights", str(corrupt), "--source", str(tmp_path)]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert "corrupt.pth" in capsys.readouterr().err
    bad_img = tmp_path / "imgs" / "bad.png"
    bad_img.parent.mkdir()
    bad_img.write_bytes(b"garbage")
    assert main(["predict", *SMALL, "--source", str(bad_img), "--out", str(tmp_path / "o")]) == 2
    assert "cannot decode image" in capsys.readouterr().err
    bad_video = tmp_path / "clip.mp4"
    bad_video.write_bytes(b"garbage")
    assert main(["predict", *SMALL, "--source", str(bad_video), "--out", str(tmp_path / "o")]) == 2
    assert "cannot open video" in capsys.readouterr().err
    assert main(["export", *SMALL, "--out", str(tmp_path / "m.onnx"), "--size", "8", "8"]) == 2
    assert "smaller than the minimum" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "o").exists()
    assert main(["bench", "--model", "no_such_net"]) == 2
    assert "Unknown model" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_compile_backend(tmp_path: Path) -> None:
    argv = ["bench", "--model", "ffnet40s_bbb_mobile", "--size", "64", "96", "--runs", "2"]
    argv += ["--warmup", "1", "--backend", "compile", "--precision", "fp32"]
    argv += ["--out", str(tmp_path / "r.json")]
    assert main(argv) == 0
    (row,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert row["error"] == "" and row["max_abs_diff"] < 1e-3
    torch._dynamo.reset()
