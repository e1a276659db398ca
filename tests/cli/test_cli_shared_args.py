"""The shared flags mean the same in every verb: ``--input-size``, ``--batch-size``,
``--device auto``, ``--weights`` (a checkpoint file or a ``save_pretrained`` folder), and the old
spellings still work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ffseg
from ffseg.cli import build_parser, main

MODEL = "ffnet40s_bbb_mobile"
SHARED = ["--input-size", "64", "64", "--batch-size", "1", "--device", "auto"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-class model (the synthetic data's class count) saved with save_pretrained."""
    model = ffseg.create_model(MODEL, num_classes=5, init="kaiming")
    return ffseg.save_pretrained(model, tmp_path_factory.mktemp("saved") / "model")


def _verb_argv(verb: str, saved: Path, tmp: Path) -> list[str]:
    data = ["--data", "synthetic", "--num-images", "1"]
    if verb == "val":
        return ["val", "--weights", str(saved), *data, "--mode", "slide"]
    if verb == "predict":
        image = tmp / "in" / "a.png"
        image.parent.mkdir()
        Image.fromarray(np.zeros((48, 80, 3), np.uint8)).save(image)
        return ["predict", "--weights", str(saved), "--source", str(image), "--out", str(tmp / "o")]
    if verb == "bench":
        run = ["--runs", "1", "--warmup", "0", "--backend", "raw", "--precision", "fp32"]
        return ["bench", "--model", MODEL, "--weights", str(saved), *run]
    if verb == "export":
        return ["export", "--weights", str(saved), "--out", str(tmp / "m.pt2")]
    assert verb == "quantize"
    out = ["--out", str(tmp / "q.onnx"), "--num-val", "1", "--runs", "1"]
    return ["quantize", "--weights", str(saved), *out, *data]


@pytest.mark.parametrize("verb", ["val", "predict", "bench", "export", "quantize"])
def test_every_verb_takes_the_shared_flags_and_a_saved_folder(
    verb: str, saved: Path, tmp_path: Path
) -> None:
    assert main([*_verb_argv(verb, saved, tmp_path), *SHARED, "--threads", "1"]) == 0


def test_old_spellings_are_hidden_aliases() -> None:
    parser = build_parser()
    old = parser.parse_args(["bench", "--model", MODEL, "--size", "8", "16", "--batch", "2"])
    assert old.input_size == [[8, 16]] and old.batch_size == 2
    val = ["val", "--model", MODEL, "--data", "camvid", "--root", "r", "--limit", "3"]
    old = parser.parse_args([*val, "--crop-size", "4", "4", "--amp", "bf16"])
    assert (old.data_root, old.num_images, old.input_size, old.precision) == (
        "r",
        3,
        [4, 4],
        "bf16",
    )
    predict = ["predict", "--model", MODEL, "--source", "s", "--out", "o"]
    old = parser.parse_args([*predict, "--bf16"])
    assert old.precision == "bf16" and old.device == "auto"
    old = parser.parse_args([*predict, "--size", "8", "8"])
    assert old.resize == [8, 8] and old.input_size is None  # predict's --size resized first
    export = ["export", "--model", MODEL, "--out", "m.onnx", "--verify-data", "camvid"]
    old = parser.parse_args([*export, "--verify-images", "2"])
    assert (old.data, old.num_images) == ("camvid", 2)
    old = parser.parse_args(["quantize", "--model", MODEL, "--out", "q.onnx", "--num-calib", "7"])
    assert old.num_images == 7


def test_help_shows_defaults_and_hides_aliases(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # undo line wrapping
    assert "--input-size" in out and "(default: 50)" in out and "--size" not in out
    assert "(default: auto)" in out


def test_val_results_record_the_spec(saved: Path, tmp_path: Path) -> None:
    results = tmp_path / "r.json"
    argv = ["val", "--weights", str(saved), "--data", "synthetic", "--num-images", "2"]
    assert main([*argv, "--flip", "--results-file", str(results)]) == 0
    data = json.loads(results.read_text())
    assert data["num_images"] == 2 and data["flip"] is True and data["mode"] == "whole"


@pytest.mark.parametrize("verb", ["val", "predict"])
@pytest.mark.parametrize(
    ("given", "expected"),
    [(["0.75,1.0,1.25"], (0.75, 1.0, 1.25)), (["0.75", "1.0"], (0.75, 1.0)), (["2"], (2.0,))],
)
def test_scales_mean_the_same_in_val_and_predict(verb: str, given: list[str], expected) -> None:
    from ffseg.cli import build_parser
    from ffseg.cli._args import scales_from_args

    argv = [verb, "--scales", *given, "--mode", "slide", "--stride", "32", "32"]
    argv += ["--data", "camvid"] if verb == "val" else ["--source", "x.png", "--out", "o"]
    args = build_parser(verb).parse_args(argv)
    assert scales_from_args(args) == expected and args.stride == [32, 32]


@pytest.mark.parametrize("bad", [["a"], ["0"], ["1.0,-1"], ["nan"], ["1.0", "inf"]])
def test_bad_scales_name_the_flag_and_the_fix(bad: list[str], capsys) -> None:
    from ffseg.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser("predict").parse_args(
            ["predict", "--source", "x.png", "--out", "o", "--scales", *bad]
        )
    assert exc.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --scales" in last and "e.g. 0.75 1.0 1.25" in last
