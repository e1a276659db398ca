"""Bad input to every verb: one clear line (exit 2), never a traceback, and the message names
the file or key, the value and the fix. In-process through ``ffseg.cli.main``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ffseg.cli import main

from .conftest import MODEL


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "img.png"
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(path)
    return path


def run(capsys: pytest.CaptureFixture, argv: list[str], code: int = 2) -> str:
    """Run ``ffseg argv``; assert the exit code and no traceback; the stderr."""
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def parse_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


PREDICT = ["predict", "--model", MODEL, "--input-size", "64", "64"]


def test_unknown_model(capsys, image, tmp_path) -> None:
    err = run(
        capsys,
        ["predict", "--model", "nosuchnet", "--source", str(image), "--out", str(tmp_path / "o")],
    )
    assert "nosuchnet" in err and "ffseg list" in err


def test_unknown_model_in_info(capsys) -> None:
    assert "nosuchnet" in run(capsys, ["info", "nosuchnet"])


def test_missing_source(capsys, tmp_path) -> None:
    err = run(
        capsys, [*PREDICT, "--source", str(tmp_path / "nope.png"), "--out", str(tmp_path / "o")]
    )
    assert "nope.png" in err and "--source" in err


def test_empty_source_folder(capsys, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    err = run(capsys, [*PREDICT, "--source", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert "no images" in err and "empty" in err


def _folder_with_bad_image(tmp_path: Path, image: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.jpg").write_bytes(b"not a jpeg")
    Image.open(image).save(folder / "good.png")
    return folder


def test_corrupt_image_names_file_and_skip_flag(capsys, tmp_path, image) -> None:
    folder = _folder_with_bad_image(tmp_path, image)
    err = run(capsys, [*PREDICT, "--source", str(folder), "--out", str(tmp_path / "o")])
    assert "bad.jpg" in err and "--skip-bad" in err


def test_skip_bad_skips_and_reports(capsys, tmp_path, image) -> None:
    folder = _folder_with_bad_image(tmp_path, image)
    err = run(
        capsys, [*PREDICT, "--source", str(folder), "--out", str(tmp_path / "o"), "--skip-bad"], 0
    )
    assert "skipped 1" in err and "bad.jpg" in err
    assert (tmp_path / "o" / "good.png").is_file() and not (tmp_path / "o" / "bad.png").exists()


def test_predict_without_weights_warns_untrained(capsys, tmp_path, image, caplog) -> None:
    run(capsys, [*PREDICT, "--source", str(image), "--out", str(tmp_path / "o")], 0)
    assert "untrained" in caplog.text and "--weights" in caplog.text


def test_output_path_is_a_file(capsys, tmp_path, image) -> None:
    out = tmp_path / "taken"
    out.write_text("x")
    err = run(capsys, [*PREDICT, "--source", str(image), "--out", str(out)])
    assert "taken" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_output_folder(capsys, tmp_path, image) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        err = run(capsys, [*PREDICT, "--source", str(image), "--out", str(out)])
    finally:
        out.chmod(0o700)
    assert "ro" in err


def test_read_only_file_system(capsys, tmp_path, image, monkeypatch) -> None:
    """A read-only mount (EROFS), simulated at the one place ffseg creates files: runs as root."""
    import errno
    import tempfile

    out = tmp_path / "mounted_ro"
    real_mkstemp = tempfile.mkstemp

    def read_only_mount(*args, **kwargs):
        if str(kwargs.get("dir", "")).startswith(str(out)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only_mount)
    err = run(capsys, [*PREDICT, "--source", str(image), "--out", str(out)])
    assert "mounted_ro" in err and "read-only" in err and "writable output folder" in err
    assert "Traceback" not in err


def test_missing_weights_file(capsys, tmp_path, image) -> None:
    weights = tmp_path / "missing.pth"
    err = run(
        capsys,
        [*PREDICT, "--weights", str(weights), "--source", str(image), "--out", str(tmp_path / "o")],
    )
    assert "missing.pth" in err


def test_corrupt_checkpoint(capsys, tmp_path, image) -> None:
    weights = tmp_path / "garbage.pth"
    weights.write_bytes(b"\x00garbage" * 10)
    err = run(
        capsys,
        [*PREDICT, "--weights", str(weights), "--source", str(image), "--out", str(tmp_path / "o")],
    )
    assert "garbage.pth" in err


def test_truncated_checkpoint(capsys, tmp_path, image, ckpt11) -> None:
    weights = tmp_path / "cut.pth"
    weights.write_bytes(ckpt11.read_bytes()[:1000])
    err = run(
        capsys,
        [*PREDICT, "--weights", str(weights), "--source", str(image), "--out", str(tmp_path / "o")],
    )
    assert "cut.pth" in err


def test_checkpoint_of_another_architecture(capsys, tmp_path, image, ckpt11) -> None:
    argv = ["predict", "--model", "ddrnet23_slim", "--weights", str(ckpt11)]
    err = run(capsys, [*argv, "--source", str(image), "--out", str(tmp_path / "o")])
    assert "m11.pth" in err


def test_weights_without_model_name(capsys, tmp_path, image, ckpt11) -> None:
    err = run(
        capsys,
        ["predict", "--weights", str(ckpt11), "--source", str(image), "--out", str(tmp_path / "o")],
    )
    assert "--model" in err


@pytest.mark.parametrize("verb", ["predict", "export", "quantize", "bench"])
def test_num_classes_mismatch_is_refused_naming_both(capsys, tmp_path, image, ckpt11, verb) -> None:
    common = ["--model", MODEL, "--weights", str(ckpt11), "--num-classes", "19"]
    argv = {
        "predict": ["predict", *common, "--source", str(image), "--out", str(tmp_path / "o")],
        "export": ["export", *common, "--out", str(tmp_path / "m.pt2"), "--input-size", "64", "64"],
        "quantize": ["quantize", *common, "--out", str(tmp_path / "q.onnx"), "--data", "synthetic"],
        "bench": ["bench", *common, "--backend", "raw", "--precision", "fp32", "--runs", "1"],
    }[verb]
    err = run(capsys, argv)
    assert "11" in err and "19" in err and "--num-classes 11" in err


def test_val_checkpoint_vs_dataset_classes(capsys, ckpt11) -> None:
    argv = ["val", "--model", MODEL, "--weights", str(ckpt11), "--data", "synthetic"]
    err = run(capsys, [*argv, "--num-images", "1"])
    assert "11" in err and "5 classes" in err and "m11.pth" in err


def test_unknown_dataset(capsys) -> None:
    err = parse_error(capsys, ["check-data", "--data", "nosuchdata"])
    assert "nosuchdata" in err


def test_dataset_root_missing(capsys, tmp_path) -> None:
    err = run(capsys, ["check-data", "--data", "camvid", "--data-root", str(tmp_path / "none")])
    assert "none" in err


def test_folder_data_without_classes(capsys, tmp_path) -> None:
    err = run(capsys, ["check-data", "--data", "folder", "--data-root", str(tmp_path)])
    assert "--classes" in err


def test_folder_data_empty(capsys, tmp_path) -> None:
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "annotations" / "train").mkdir(parents=True)
    argv = ["check-data", "--data", "folder", "--data-root", str(tmp_path), "--classes", "a,b"]
    err = run(capsys, [*argv, "--split", "train"])
    assert "images" in err and "img_suffix" in err


def test_wrong_type_for_int_option(capsys) -> None:
    err = parse_error(capsys, ["bench", "--model", MODEL, "--runs", "many"])
    assert "--runs" in err and "many" in err


def test_bad_choice(capsys, image, tmp_path) -> None:
    err = parse_error(
        capsys, [*PREDICT, "--source", str(image), "--out", str(tmp_path), "--mode", "tiles"]
    )
    assert "--mode" in err and "tiles" in err


def test_missing_required_option(capsys) -> None:
    assert "--source" in parse_error(capsys, ["predict", "--model", MODEL])


def test_unknown_verb(capsys) -> None:
    assert "frobnicate" in parse_error(capsys, ["frobnicate"])


def test_export_unknown_suffix(capsys, tmp_path) -> None:
    err = run(capsys, ["export", "--model", MODEL, "--out", str(tmp_path / "m.xyz")])
    assert "m.xyz" in err and ".onnx" in err


def test_export_bad_input_size(capsys, tmp_path) -> None:
    err = parse_error(
        capsys,
        ["export", "--model", MODEL, "--out", str(tmp_path / "m.pt2"), "--input-size", "0", "0"],
    )
    assert "--input-size: 0" in err


def test_quantize_without_data(capsys, tmp_path) -> None:
    err = run(capsys, ["quantize", "--model", MODEL, "--out", str(tmp_path / "q.onnx")])
    assert "--data" in err


def test_quantize_missing_onnx(capsys, tmp_path) -> None:
    argv = ["quantize", "--onnx", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "q.onnx")]
    err = run(capsys, [*argv, "--data", "synthetic"])
    assert "none.onnx" in err


def test_bench_nothing_to_run(capsys) -> None:
    assert "--model" in run(capsys, ["bench"])


def test_bench_unknown_pattern(capsys) -> None:
    assert "nosuch" in run(capsys, ["bench", "--model", "nosuch*"])


def test_bench_bad_miou_file(capsys, tmp_path) -> None:
    bad = tmp_path / "miou.json"
    bad.write_text("{not json")
    argv = ["bench", "--model", MODEL, "--backend", "raw", "--precision", "fp32", "--runs", "1"]
    argv += ["--warmup", "0", "--input-size", "64", "64", "--plot", str(tmp_path / "p.png")]
    err = run(capsys, [*argv, "--miou-file", str(bad)])
    assert "miou.json" in err


def test_predict_missing_onnx(capsys, tmp_path, image) -> None:
    argv = ["predict", "--onnx", str(tmp_path / "none.onnx"), "--source", str(image)]
    err = run(capsys, [*argv, "--out", str(tmp_path / "o")])
    assert "none.onnx" in err


def test_unexpected_error_is_one_line_with_hint(capsys, monkeypatch) -> None:
    from ffseg.cli import listing

    def boom(args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(listing, "run_list", boom)
    monkeypatch.setattr(listing, "register", _register_with(boom))
    err = run(capsys, ["list"], 1)
    assert "boom" in err and "-v" in err


def _register_with(func):
    def register(subparsers):
        p = subparsers.add_parser("list", help="x")
        p.set_defaults(func=func)

    return register


def test_broken_pipe_is_quiet(capsys, monkeypatch) -> None:
    from ffseg.cli import listing

    def closed(args):
        raise BrokenPipeError

    monkeypatch.setattr(listing, "register", _register_with(closed))
    monkeypatch.setattr("ffseg.cli._quiet_broken_pipe", lambda: 0)
    assert main(["list"]) == 0
    assert capsys.readouterr().err == ""
