"""Missing extras stop a verb before any work with one line naming ``ffseg[EXTRA]``; every verb
builds the checkpoint's class count without ``--num-classes``; video predict writes masks."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from ffseg.cli import _args, main
from ffseg.cli import deploy as cli_deploy

from .conftest import MODEL


def _without(monkeypatch: pytest.MonkeyPatch, *missing: str) -> None:
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name.split(".")[0] in missing else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def _no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("work started before the extras were checked")

    for name in ("export_model", "benchmark_models", "quantize_and_compare", "model_from_args"):
        monkeypatch.setattr(cli_deploy, name, fail)


@pytest.mark.parametrize(
    ("argv", "missing", "extra"),
    [
        (["export", "--model", MODEL, "--out", "m.onnx"], "onnxruntime", "export"),
        (
            ["quantize", "--model", MODEL, "--out", "q.onnx", "--data", "synthetic"],
            "onnx",
            "export",
        ),
        (["bench", "--model", MODEL, "--backend", "onnxruntime"], "onnxruntime", "export"),
        (["bench", "--model", MODEL, "--backend", "raw", "--precision", "int8"], "onnx", "export"),
        (["bench", "--model", MODEL, "--backend", "raw", "--plot", "p.png"], "matplotlib", "plot"),
    ],
)
def test_missing_extra_stops_before_any_work(capsys, monkeypatch, argv, missing, extra) -> None:
    _without(monkeypatch, missing)
    _no_work(monkeypatch)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"pip install 'ffseg[{extra}]'" in err and missing in err and "Traceback" not in err


def test_video_predict_without_pyav(capsys, monkeypatch, tmp_path) -> None:
    _without(monkeypatch, "av")
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00")
    monkeypatch.setattr("ffseg.cli.predict._segmenter", lambda args: pytest.fail("model built"))
    argv = ["predict", "--model", MODEL, "--source", str(video), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "pip install 'ffseg[video]'" in capsys.readouterr().err


def test_module_not_found_anywhere_names_the_extra(capsys, monkeypatch) -> None:
    from ffseg.cli import listing

    def needs_optuna(args):
        raise ModuleNotFoundError("No module named 'optuna'", name="optuna")

    def register(subparsers):
        subparsers.add_parser("list").set_defaults(func=needs_optuna)

    monkeypatch.setattr(listing, "register", register)
    assert main(["list"]) == 2
    assert "pip install 'ffseg[tune]'" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["predict", "export", "quantize", "bench"])
def test_class_count_comes_from_the_checkpoint(monkeypatch, tmp_path, ckpt11, verb) -> None:
    built: list[int] = []
    real = _args.load_model

    def recording(*args, **kwargs):
        model = real(*args, **kwargs)
        built.append(model.num_classes)
        return model

    monkeypatch.setattr(_args, "load_model", recording)
    monkeypatch.setattr("ffseg.deploy.bench.load_model", recording)
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(image)
    common = ["--model", MODEL, "--weights", str(ckpt11), "--input-size", "64", "64"]
    argv = {
        "predict": ["predict", *common, "--source", str(image), "--out", str(tmp_path / "o")],
        "export": ["export", *common, "--out", str(tmp_path / "m.pt2")],
        "quantize": ["quantize", *common, "--out", str(tmp_path / "q.onnx"), "--data", "synthetic"],
        "bench": ["bench", *common, "--backend", "raw", "--precision", "fp32", "--runs", "1"],
    }[verb]
    if verb == "quantize":
        argv += ["--num-images", "1", "--num-val", "1", "--runs", "1", "--num-classes", "11"]
    assert main(argv) == 0
    assert built and set(built) == {11}


def test_video_predict_writes_mask_video_and_frame_masks(tmp_path) -> None:
    av = pytest.importorskip("av")
    video = tmp_path / "clip.mp4"
    with av.open(str(video), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(3):
            frame = np.full((64, 64, 3), 40 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = tmp_path / "o"
    argv = ["predict", "--model", MODEL, "--source", str(video), "--out", str(out)]
    assert main([*argv, "--color", "--save-masks"]) == 0
    assert (out / "clip_color.mp4").is_file()
    masks = sorted((out / "clip_masks").glob("*.png"))
    assert len(masks) == 3 and np.asarray(Image.open(masks[0])).shape == (64, 64)
