"""``ffseg list`` / ``ffseg info`` smoke tests (in-process and as a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ffseg.cli import main


def test_list_filters_and_reports_costs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "ffnet*s_bbb_mobile_pre_down"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("ffnet")]
    assert [r.split()[0] for r in rows] == [
        "ffnet40s_bbb_mobile_pre_down", "ffnet54s_bbb_mobile_pre_down",
        "ffnet78s_bbb_mobile_pre_down", "ffnet86s_bbb_mobile_pre_down",
        "ffnet150s_bbb_mobile_pre_down",
    ]  # fmt: skip
    first = rows[0].split()
    assert first[1:6] == ["13.91", "60.12", "1024x2048", "8", "79.7"]


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


def test_info_unknown_model_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "ffnet18_daca"]) == 2
    err = capsys.readouterr().err
    assert "Unknown model" in err and "ffnet18_daac" in err


def test_console_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ffseg", "info", "ffnet40s_bbb_mobile"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert "GMACs at input 512x1024" in result.stdout
