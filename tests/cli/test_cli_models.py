"""``ffseg list`` / ``ffseg info`` smoke tests (in-process and as a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import torch

import ffseg
from ffseg.cli import main


def test_list_filters_and_reports_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "ffnet*s_bbb_mobile_pre_down"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("ffnet")]
    assert [r.split()[0] for r in rows] == [
        "ffnet40s_bbb_mobile_pre_down", "ffnet54s_bbb_mobile_pre_down",
        "ffnet78s_bbb_mobile_pre_down", "ffnet86s_bbb_mobile_pre_down",
        "ffnet150s_bbb_mobile_pre_down",
    ]  # fmt: skip
    first = rows[0].split()
    assert first[1:7] == ["ffnet", "1024x2048", "8", "19", "79.7", "official"]


def test_list_builds_no_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every row comes from the registered default cfgs: building any nn.Module fails here."""

    def no_build(self: torch.nn.Module, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"ffseg list built a {type(self).__name__}")

    monkeypatch.setattr(torch.nn.Module, "__init__", no_build)
    start = time.perf_counter()
    assert main(["list"]) == 0
    elapsed = time.perf_counter() - start
    rows = capsys.readouterr().out.splitlines()
    names = ffseg.list_models()
    assert [r.split()[0] for r in rows[2 : 2 + len(names)]] == names
    assert "no default cfg" not in "\n".join(rows)
    assert elapsed < 1.0, f"ffseg list took {elapsed:.2f} s"


def test_list_unknown_filter_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "nothing*"]) == 1


def test_info_json_with_input_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "segmentation_ffnet18_dAAC", "--input-size", "512", "1024", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "ffnet18_daac"
    assert info["params"] == 13_403_347
    assert info["gmacs_input_size"] == [512, 1024]
    assert info["gmacs"] == pytest.approx(47.46 / 4, abs=0.01)
    assert info["output_stride"] == 8 and "restrictive" in info["license"]
    assert info["capabilities"] == {"dynamic_shapes": True, "torchscript": True, "int8": True}


def test_info_unknown_model_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "ddrnet23_slm"]) == 2
    err = capsys.readouterr().err
    assert "Unknown model" in err and "ddrnet23_slim" in err


def test_info_ungrammatical_ffnet_names_the_part(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "ffnet18_daxa"]) == 2  # ffnet18_daca would be a valid design point
    err = capsys.readouterr().err
    assert "up-head letter X" in err and "ffnet18_daac" in err


def test_console_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ffseg", "info", "ffnet40s_bbb_mobile"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert "GMACs at input 512x1024" in result.stdout
