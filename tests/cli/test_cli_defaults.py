"""Defaults that fit the machine and the user (issue 20): bench measures only the precisions the
CPU runs natively unless asked, predict writes index or palette masks, and third-party INFO
lines stay hidden unless ``-v``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ffseg.cli.deploy as cli_deploy
from ffseg._logs import QUIET_LOGGERS
from ffseg.classes import palette_for
from ffseg.cli import build_parser, main

MODEL = "ffnet40s_bbb_mobile"


def _bench_args(*extra: str):
    return build_parser("bench").parse_args(["bench", "--model", MODEL, *extra])


@pytest.mark.parametrize("native", [False, True])
def test_bench_skips_emulated_bf16_and_says_so(monkeypatch, capsys, native) -> None:
    monkeypatch.setattr(cli_deploy, "cpu_has_native_bf16", lambda: native)
    chosen = cli_deploy.bench_precisions(_bench_args("--device", "cpu"))
    err = capsys.readouterr().err
    if native:
        assert chosen == ["fp32", "bf16", "int8"] and err == ""
    else:
        assert chosen == ["fp32", "int8"]
        assert "skipping bf16" in err and "--precision bf16" in err and len(err.splitlines()) == 1


def test_bench_measures_bf16_when_asked(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli_deploy, "cpu_has_native_bf16", lambda: False)
    args = _bench_args("--device", "cpu", "--precision", "bf16", "--precision", "fp32")
    assert cli_deploy.bench_precisions(args) == ["bf16", "fp32"]
    assert capsys.readouterr().err == ""


def test_bench_end_to_end_has_no_emulated_bf16_row(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli_deploy, "cpu_has_native_bf16", lambda: False)
    argv = ["bench", "--model", MODEL, "--backend", "raw", "--runs", "1", "--warmup", "0"]
    assert main([*argv, "--input-size", "64", "64", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert "skipping bf16" in err
    rows = [line for line in out.splitlines() if MODEL in line]
    assert rows and all("bf16" not in row for row in rows) and any("fp32" in r for r in rows)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "p.png"
    path.parent.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    return path


def test_predict_palette_masks_hold_the_same_ids_with_colours(photo, tmp_path) -> None:
    import ffseg

    base = ["predict", "--model", MODEL, "--num-classes", "4", "--source", str(photo)]
    base += ["--input-size", "64", "64", "--device", "cpu"]
    for fmt in ("index", "palette"):
        torch.manual_seed(0)  # the same random weights for both runs
        assert main([*base, "--out", str(tmp_path / fmt), "--mask-format", fmt]) == 0
    index = Image.open(tmp_path / "index" / "p.png")
    palette = Image.open(tmp_path / "palette" / "p.png")
    assert index.mode == "L" and palette.mode == "P"
    np.testing.assert_array_equal(np.asarray(index), np.asarray(palette))
    expected = ffseg.create_model(MODEL, num_classes=4).pretrained_cfg
    colours = np.asarray(palette.getpalette()[: 3 * 4]).reshape(4, 3)
    np.testing.assert_array_equal(colours, np.asarray(palette_for(expected, 4)))


def test_mask_format_is_checked_by_argparse(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["predict", "--source", "a.png", "--out", "o", "--mask-format", "rgb"])
    assert exc.value.code == 2
    assert "--mask-format" in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("verbose", [False, True])
def test_third_party_info_hidden_unless_verbose(verbose, capsys) -> None:
    assert main([*(["-v"] if verbose else []), "list", "--names-only"]) == 0
    for name in QUIET_LOGGERS:
        level = logging.getLogger(name).level
        assert level == (logging.DEBUG if verbose else logging.WARNING)
    assert logging.getLogger("ffseg").getEffectiveLevel() <= logging.INFO
    logging.getLogger("ffseg").setLevel(logging.NOTSET)


def test_palette_masks_of_a_video_need_save_masks(capsys, tmp_path) -> None:
    pytest.importorskip("av")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"refused before it is decoded")
    argv = ["predict", "--model", MODEL, "--source", str(clip), "--out", str(tmp_path / "o")]
    assert main([*argv, "--mask-format", "palette"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--mask-format would be ignored" in line and "--save-masks" in line
    assert not (tmp_path / "o").exists()
