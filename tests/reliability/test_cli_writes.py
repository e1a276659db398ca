"""Writes (issue 19 deliver 1): an output that would overwrite an input is refused before work,
output names never collide, and killed exports/quantizations leave no temp files behind. Each
case asserts the exit code, the one-line message and that no byte of the user's files changed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import MODEL
from .test_cli_flags import refused, snapshot


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((32, 48, 3), 90, np.uint8)).save(path)
    return path


PREDICT = ["predict", "--model", MODEL]


@pytest.mark.parametrize("suffix", ["", "/"])
def test_predict_out_equal_to_source_is_refused(capsys, tmp_path, suffix) -> None:
    photos = tmp_path / "photos"
    _image(photos / "a.jpg")
    _image(photos / "b.png")
    before = snapshot(photos)
    line = refused(capsys, [*PREDICT, "--source", str(photos), "--out", f"{photos}{suffix}"])
    assert "--out" in line and "is --source" in line and "photos_out" in line
    assert snapshot(photos) == before


def test_predict_single_image_over_itself_is_refused(capsys, tmp_path) -> None:
    image = _image(tmp_path / "b.png")
    before = snapshot(tmp_path)
    line = refused(capsys, [*PREDICT, "--source", str(image), "--out", str(tmp_path)])
    assert "would overwrite the input" in line and "b.png" in line
    assert snapshot(tmp_path) == before


def test_predict_same_stem_images_are_refused(capsys, tmp_path) -> None:
    photos = tmp_path / "photos"
    _image(photos / "a.png")
    _image(photos / "a.jpg")
    out = tmp_path / "out"
    line = refused(capsys, [*PREDICT, "--source", str(photos), "--out", str(out)])
    assert "a.jpg and a.png would both be written as a.png" in line and "rename one" in line
    assert not out.exists()


def test_predict_overlay_name_taken_by_an_input_is_refused(capsys, tmp_path) -> None:
    photos = tmp_path / "photos"
    _image(photos / "b.png")
    _image(photos / "b_overlay.png")
    out = tmp_path / "out"
    argv = [*PREDICT, "--source", str(photos), "--out", str(out), "--overlay"]
    line = refused(capsys, argv)
    assert "b.png and b_overlay.png would both be written as b_overlay.png" in line
    assert not out.exists()


def test_predict_color_name_taken_by_an_input_is_refused(capsys, tmp_path) -> None:
    photos = tmp_path / "photos"
    _image(photos / "c.jpg")
    _image(photos / "c_color.jpg")
    argv = [*PREDICT, "--source", str(photos), "--out", str(tmp_path / "o"), "--color"]
    line = refused(capsys, argv)
    assert "would both be written as c_color.png" in line


def test_val_save_preds_inside_the_data_is_refused(capsys, tmp_path) -> None:
    data = tmp_path / "data"
    _image(data / "images" / "val" / "0.jpg")
    before = snapshot(data)
    argv = ["val", "--model", MODEL, "--data", "folder", "--data-root", str(data)]
    argv += ["--classes", "a,b", "--save-preds"]
    for target in (data, data / "preds"):
        line = refused(capsys, [*argv, str(target)])
        assert "--save-preds" in line and "--data-root" in line and "outside" in line
    assert snapshot(data) == before


# ----------------------------------------------------------------------------- temp files
def _old(path: Path, data: bytes = b"partial") -> Path:
    """A file left by a killed write long ago."""
    path.write_bytes(data)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    return path


def _stop_before_work(monkeypatch) -> list[str]:
    """Make loading the model fail: the verb stops right after its start-up checks."""
    import ffseg.cli.deploy as cli_deploy

    calls: list[str] = []

    def fail(*args, **kwargs):
        calls.append("model")
        raise ValueError("stopped here by the test")

    monkeypatch.setattr(cli_deploy, "model_from_args", fail)
    return calls


@pytest.mark.parametrize("verb", ["export", "quantize"])
def test_killed_writes_leave_no_temp_at_the_next_start(capsys, monkeypatch, tmp_path, verb) -> None:
    pytest.importorskip("onnxruntime")
    stale = [_old(tmp_path / ".m.onnx.x1y2.tmp", b"x" * 1000), _old(tmp_path / ".m.json.a.tmp")]
    stale.append(_old(tmp_path / ".m_fp32.onnx.zz.tmp"))
    keep = [_old(tmp_path / ".notes.tmp"), _old(tmp_path / ".mine.onnx.q.tmp")]
    fresh = tmp_path / ".m.onnx.live.tmp"  # a write running now: too young to remove
    fresh.write_bytes(b"live")
    calls = _stop_before_work(monkeypatch)
    argv = [verb, "--model", MODEL, "--out", str(tmp_path / "m.onnx")]
    line = refused(capsys, argv + (["--data", "synthetic"] if verb == "quantize" else []))
    assert "stopped here by the test" in line and calls == ["model"]
    assert not any(p.exists() for p in stale)
    assert all(p.read_bytes() == b"partial" for p in keep) and fresh.read_bytes() == b"live"


def test_sigterm_during_a_write_removes_its_temp_file(tmp_path) -> None:
    from ffseg._io import atomic_write, sigterm_raises

    target = tmp_path / "m.onnx"

    def killed_while_writing(tmp: str) -> None:
        Path(tmp).write_bytes(b"x" * 4096)
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(SystemExit) as exc, sigterm_raises():
        atomic_write(target, killed_while_writing)
    assert exc.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def _tiny_onnx(path: Path) -> Path:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU()).eval()
    torch.onnx.export(
        net, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False,
        input_names=["input"], output_names=["output"], opset_version=17,
    )  # fmt: skip
    return path


@pytest.mark.parametrize("preprocess_fails", [False, True])
def test_quantize_writes_nothing_beside_its_input_and_cleans_scratch(
    tmp_path, monkeypatch, preprocess_fails
) -> None:
    from ffseg.deploy import quantize as q

    user = tmp_path / "user"
    user.mkdir()
    fp32 = _tiny_onnx(user / "net.onnx")
    before = snapshot(user)
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    dead = scratch_root / f"{q.SCRATCH_PREFIX}999999999-abc"  # a killed run's folder
    (dead / "ort.quant.x").mkdir(parents=True)
    mine = scratch_root / f"{q.SCRATCH_PREFIX}{os.getpid()}-live"  # a running one: kept
    mine.mkdir()
    monkeypatch.setattr(q.tempfile, "tempdir", str(scratch_root))
    if preprocess_fails:
        import onnxruntime.quantization as ortq

        def broken(*args, **kwargs):
            raise RuntimeError("pre-processing failed")

        monkeypatch.setattr(ortq, "quant_pre_process", broken)
    calib = [np.random.default_rng(i).standard_normal((1, 3, 8, 8), np.float32) for i in range(2)]
    out = tmp_path / "out" / "net_int8.onnx"
    q.quantize_onnx(fp32, out, calib)
    assert out.is_file() and snapshot(user) == before  # no -inferred.onnx beside the input
    assert sorted(p.name for p in scratch_root.iterdir()) == [mine.name]
    assert sorted(p.name for p in out.parent.iterdir()) == ["net_int8.onnx"]


# ----------------------------------------------------------------------------- right model
def test_quantize_refuses_a_class_count_other_than_the_datas(capsys, tmp_path) -> None:
    argv = ["quantize", "--model", MODEL, "--out", str(tmp_path / "q.onnx"), "--data", "synthetic"]
    line = refused(capsys, argv)
    assert "19-class model" in line and "5 classes" in line and "--num-classes 19" in line
    assert list(tmp_path.iterdir()) == []  # refused before exporting anything


def test_quantize_onnx_class_count_checked_from_its_sidecar(capsys, tmp_path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "m.onnx").write_bytes(b"not even onnx: the check comes first")
    (user / "m.json").write_text('{"num_classes": 3, "input_size": [32, 48]}')
    before = snapshot(user)
    argv = ["quantize", "--onnx", str(user / "m.onnx"), "--out", str(tmp_path / "q.onnx")]
    line = refused(capsys, [*argv, "--data", "synthetic", "--num-classes", "4"])
    assert "3-class model" in line and "4 classes" in line and "m.onnx" in line
    assert snapshot(user) == before and not (tmp_path / "q.onnx").exists()


# ----------------------------------------------------------------------------- symlinks
def test_predict_replaces_a_planted_symlink_and_never_writes_through_it(tmp_path) -> None:
    from ffseg.cli import main

    photo = _image(tmp_path / "in" / "p.png")
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"user data")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("p.png", "p_color.png"):  # the outputs' names, planted as links
        (out / name).symlink_to(precious)
    argv = [*PREDICT, "--source", str(photo), "--out", str(out), "--color"]
    assert main([*argv, "--input-size", "64", "64", "--device", "cpu"]) == 0
    assert precious.read_bytes() == b"user data"
    for name in ("p.png", "p_color.png"):
        assert not (out / name).is_symlink() and Image.open(out / name).size == (48, 32)


@pytest.mark.parametrize("sub", ["", "index"])
def test_convert_masks_out_equal_to_or_inside_src_is_refused(capsys, tmp_path, sub) -> None:
    src = tmp_path / "masks"
    src.mkdir()
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(src / "m.png")
    before = snapshot(src)
    out = src / sub if sub else src
    argv = ["convert-masks", "--src", str(src), "--out", str(out), "--palette", "camvid"]
    line = refused(capsys, argv)
    assert "--out" in line and "--src" in line and "masks_out" in line
    assert snapshot(src) == before


def test_predict_output_name_over_255_bytes_is_refused_first(capsys, tmp_path) -> None:
    photos = tmp_path / "photos"
    _image(photos / ("p" * 246 + ".png"))  # a legal name; "<stem>_overlay.png" is 258 bytes
    out = tmp_path / "out"
    line = refused(capsys, [*PREDICT, "--source", str(photos), "--out", str(out), "--overlay"])
    assert "258 bytes" in line and "255 bytes" in line and "rename the image" in line
    assert not out.exists()
