"""benchmarks/zoo_camvid.py without training: model selection, resume, table and chart."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def zoo_camvid():
    with benchmark_script("zoo_camvid") as module:
        yield module


def test_selection_takes_names_patterns_groups_and_smp(zoo_camvid) -> None:
    names = zoo_camvid.select("fastscnn,ddrnet23*,smp:Unet:resnet18,group1")
    assert names[:4] == ["fastscnn", "ddrnet23", "ddrnet23_slim", "smp:Unet:resnet18"]
    assert len(names) == len(set(names)) and "regseg" in names
    assert zoo_camvid.group_of("enet") == "II" and zoo_camvid.group_of("regseg") == "I"


def test_models_in_the_csv_are_skipped_and_the_report_rewritten(zoo_camvid, tmp_path) -> None:
    row = dict.fromkeys(zoo_camvid.FIELDS, "1")
    row.update(model="fastscnn", val_miou="12.5", cpu_ms="30.0", threads="2", budget_min="0.1")
    zoo_camvid.write_csv(tmp_path / "zoo_camvid.csv", [row])
    assert zoo_camvid.main(["--models", "fastscnn", "--out-dir", str(tmp_path)]) == 0
    md = (tmp_path / "zoo_camvid.md").read_text()
    assert "| `fastscnn` | 1 | 12.5 |" in md and "last command" in md
    assert zoo_camvid.read_rows(tmp_path / "zoo_camvid.csv") == [row]
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "zoo_camvid.png").stat().st_size > 0
