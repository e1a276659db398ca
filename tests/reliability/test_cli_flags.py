"""Flags (issue 19 deliver 4, issue 20 deliver 6): every numeric flag is range-checked before any
work, ignored or contradictory flags are refused with the reason, output suffixes, formats and
the ONNX opset are checked first, and a mistyped flag gets the verb's usage and the closest
flag. Each case asserts the exit code, the one-line message and that no user file changed."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ffseg.cli import build_parser, main

from .conftest import MODEL


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def refused(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run ``ffseg argv`` in-process; assert exit code 2 and no traceback; the last stderr line
    (argparse errors exit through SystemExit, checks after parsing return 2)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.fixture
def user_files(tmp_path: Path) -> Path:
    """A folder of user files no refused command may touch."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"onnx bytes")
    (folder / "model.json").write_text('{"input_size": [32, 48]}')
    (folder / "img.png").write_bytes(b"png bytes")
    return folder


SRC = ["--source", "x.png", "--out", "o"]

# (argv, flag, value): the commands first, then variants not listed there
NUMERIC_CASES = [
    (["val", "--data", "synthetic", "--num-images", "-1"], "--num-images", "-1"),
    (["val", "--data", "synthetic", "--limit", "0"], "--limit", "0"),
    (["quantize", "--model", MODEL, "--out", "q.onnx", "--num-val", "0"], "--num-val", "0"),
    (["quantize", "--model", MODEL, "--out", "q.onnx", "--num-calib", "-2"], "--num-calib", "-2"),
    (["predict", *SRC, "--batch-size", "0"], "--batch-size", "0"),
    (["predict", *SRC, "--batch", "-3"], "--batch", "-3"),
    (["bench", "--model", MODEL, "--runs", "0"], "--runs", "0"),
    (["bench", "--model", MODEL, "--warmup", "-1"], "--warmup", "-1"),
    (["bench", "--model", MODEL, "--threads", "0"], "--threads", "0"),
    (["predict", *SRC, "--scales", "nan"], "--scales", "nan"),
    (["val", "--data", "synthetic", "--scales", "1.0", "inf"], "--scales", "inf"),
    (["predict", *SRC, "--input-size", "0", "64"], "--input-size", "0"),
    (["predict", *SRC, "--mode", "slide", "--stride", "-1", "32"], "--stride", "-1"),
    (["export", "--model", MODEL, "--out", "m.onnx", "--rtol", "nan"], "--rtol", "nan"),
    (["export", "--model", MODEL, "--out", "m.onnx", "--opset", "16"], "--opset", "16"),
    (["info", MODEL, "--num-classes", "0"], "--num-classes", "0"),
    (["check-data", "--data", "synthetic", "--workers", "-1"], "--workers", "-1"),
    (["val", "--data", "synthetic", "--workers", "-2"], "--workers", "-2"),
    (["tune", "-c", "r.yaml", "--space", "s.yaml", "--trials", "0"], "--trials", "0"),
    (["bench", "--model", MODEL, "--runs", "2.5"], "--runs", "2.5"),
]


@pytest.mark.parametrize(("argv", "flag", "value"), NUMERIC_CASES, ids=lambda v: str(v))
def test_numeric_flag_out_of_range_is_refused_first(capsys, argv, flag, value) -> None:
    line = refused(capsys, argv)
    assert f"argument {flag}" in line and value in line
    assert "pass" in line  # the fix: the allowed range or an example


def _numeric_actions() -> list[tuple[str, argparse.Action]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(verb, a) for verb, p in sub.choices.items() for a in p._actions]


def test_no_verb_has_an_unchecked_numeric_flag() -> None:
    unchecked = [
        f"{verb} {'/'.join(a.option_strings)}"
        for verb, a in _numeric_actions()
        if a.type in (int, float)
    ]
    assert not unchecked, f"flags parsed with a bare int/float (no range check): {unchecked}"


@pytest.mark.parametrize(
    ("argv", "typo", "fix"),
    [
        (["train", "--confg", "x.yaml"], "--confg", "--config"),
        (["predict", "--sorce", "a.png", "--out", "o"], "--sorce", "--source"),
        (["bench", "--model", MODEL, "--rnus=3"], "--rnus=3", "--runs"),
    ],
)
def test_mistyped_flag_suggests_the_closest_with_the_verbs_usage(capsys, argv, typo, fix) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: ffseg {argv[0]} ")
    last = err.strip().splitlines()[-1]
    assert typo in last and f"did you mean {fix}?" in last


def test_predict_onnx_refuses_the_flags_it_would_ignore(capsys, user_files, tmp_path) -> None:
    before = snapshot(user_files)
    out = tmp_path / "out"
    argv = ["predict", "--onnx", str(user_files / "model.onnx"), "--weights", "w.pth"]
    argv += ["--precision", "bf16", "--device", "cpu", "--source", str(user_files / "img.png")]
    line = refused(capsys, [*argv, "--out", str(out)])
    for flag in ("--weights", "--precision", "--device"):
        assert flag in line
    assert "ignored" in line and "--onnx" in line and "drop" in line
    assert snapshot(user_files) == before and not out.exists()


def test_predict_onnx_refuses_model_and_num_classes(capsys, user_files, tmp_path) -> None:
    argv = ["predict", "--onnx", str(user_files / "model.onnx"), "--model", MODEL]
    argv += ["--num-classes", "3", "--source", str(user_files / "img.png"), "--out", "o"]
    line = refused(capsys, argv)
    assert "--model --num-classes would be ignored" in line


def test_predict_stride_without_slide_is_refused(capsys, user_files) -> None:
    argv = ["predict", "--model", MODEL, "--source", str(user_files / "img.png"), "--out", "o"]
    line = refused(capsys, [*argv, "--stride", "16", "16"])
    assert "--stride" in line and "--mode slide" in line


def test_predict_save_masks_without_a_video_is_refused(capsys, user_files, tmp_path) -> None:
    argv = ["predict", "--model", MODEL, "--source", str(user_files / "img.png")]
    line = refused(capsys, [*argv, "--out", str(tmp_path / "o"), "--save-masks"])
    assert "--save-masks would be ignored" in line and "video" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--format", "torchscript", "--out", "a.onnx"], ["--format torchscript", "a.onnx", ".ts"]),
        (["--out", "model.bin"], ["model.bin", ".bin", ".onnx"]),
        (["--format", "onnx", "--out", "a.pt2"], ["--format onnx", ".onnx"]),
        (["--out", "m.ts", "--dynamic"], ["--dynamic", "ONNX exports only"]),
        (["--out", "m.pt2", "--opset", "19"], ["--opset", "ONNX exports only"]),
    ],
)
def test_export_format_and_suffix_checked_first(capsys, tmp_path, extra, words) -> None:
    extra = [str(tmp_path / v) if v.startswith(("a.", "m.", "model.")) else v for v in extra]
    line = refused(capsys, ["export", "--model", MODEL, *extra])
    assert all(w in line for w in words), line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("opset", "legacy"), [("99", False), ("22", True)])
def test_export_opset_beyond_the_exporter_is_refused(capsys, tmp_path, opset, legacy) -> None:
    pytest.importorskip("onnx")
    from ffseg.deploy.export import max_onnx_opset

    argv = ["export", "--model", MODEL, "--out", str(tmp_path / "m.onnx"), "--opset", opset]
    line = refused(capsys, argv + (["--legacy-exporter"] if legacy else []))
    top = max_onnx_opset(dynamo=not legacy)
    assert f"--opset {opset}" in line and f"between 17 and {top}" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--out", "x.xyz"], ["--out", "x.xyz", ".csv or .json or .md"]),
        (["--out", "r.csv", "--out", "r.txt"], ["r.txt", ".txt"]),
        (["--plot", "p.jpg"], ["--plot", ".png"]),
        (["--miou-file", "m.json"], ["--miou-file", "--plot"]),
        (["--backend", "eager", "--precision", "fp32", "--onnx-dir", "d"], ["--onnx-dir"]),
    ],
)
def test_bench_outputs_checked_before_the_benchmark(capsys, tmp_path, extra, words) -> None:
    extra = [str(tmp_path / v) if "." in v or v == "d" else v for v in extra]
    line = refused(capsys, ["bench", "--model", MODEL, "--runs", "1", *extra])
    assert all(w in line for w in words), line
    assert "|" not in capsys.readouterr().out  # no results table: nothing was measured
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--backend", "eager", "--precision", "int8"], ["--precision int8", "onnxruntime"]),
        (["--backend", "onnxruntime", "--precision", "bf16"], ["--precision bf16", "raw"]),
        (["--precision", "fp16", "--device", "cpu"], ["fp16", "CUDA"]),
    ],
)
def test_bench_precision_no_backend_runs_is_refused(capsys, extra, words) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    line = refused(capsys, ["bench", "--model", MODEL, "--runs", "1", *extra])
    assert all(w in line for w in words), line
    assert "|" not in capsys.readouterr().out


def test_quantize_refuses_out_equal_to_its_input(capsys, user_files) -> None:
    before = snapshot(user_files)
    onnx = str(user_files / "model.onnx")
    line = refused(capsys, ["quantize", "--onnx", onnx, "--out", onnx, "--data", "synthetic"])
    assert "--out" in line and "overwrite" in line and "another --out" in line
    assert snapshot(user_files) == before


def test_quantize_refuses_report_over_the_sidecar(capsys, user_files, tmp_path) -> None:
    before = snapshot(user_files)
    argv = ["quantize", "--onnx", str(user_files / "model.onnx"), "--data", "synthetic"]
    argv += ["--out", str(tmp_path / "q.onnx"), "--report", str(tmp_path / "q.json")]
    line = refused(capsys, argv)
    assert "--report" in line and "sidecar" in line
    assert snapshot(user_files) == before and not (tmp_path / "q.onnx").exists()


def test_quantize_onnx_refuses_model_flags(capsys, user_files, tmp_path) -> None:
    argv = ["quantize", "--onnx", str(user_files / "model.onnx"), "--weights", "w.pth"]
    line = refused(capsys, [*argv, "--out", str(tmp_path / "q.onnx"), "--data", "synthetic"])
    assert "--weights would be ignored" in line


@pytest.mark.parametrize("verb", ["export", "quantize"])
def test_quantize_and_export_out_suffix(capsys, tmp_path, verb) -> None:
    line = refused(capsys, [verb, "--model", MODEL, "--out", str(tmp_path / "q.txt")])
    assert "--out" in line and ".txt" in line and ".onnx" in line


@pytest.mark.parametrize("verb", ["export", "predict"])
def test_a_255_byte_name_gets_a_clear_message(capsys, tmp_path, user_files, verb) -> None:
    long = tmp_path / ("a" * 260 + ".onnx")
    argv = ["export", "--model", MODEL, "--out", str(long)]
    if verb == "predict":
        argv = ["predict", "--model", MODEL, "--source", str(user_files / "img.png")]
        argv += ["--out", str(long)]
    line = refused(capsys, argv)
    assert "--out" in line and "265 bytes" in line and "255 bytes" in line
    assert "shorter name" in line
