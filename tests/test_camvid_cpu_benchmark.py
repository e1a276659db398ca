"""benchmarks/camvid_cpu.py without training: the run's settings in words."""

from __future__ import annotations

import pytest

from ffseg.config import load_config
from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def camvid_cpu():
    with benchmark_script("camvid_cpu") as module:
        yield module


def test_the_report_names_sampling_ema_and_distillation(camvid_cpu) -> None:
    shipped = camvid_cpu._extras(load_config("camvid_15min_cpu"))
    assert shipped == "class-uniform crops 0.5 (off at 0.8), no EMA"
    kd = load_config(
        "camvid_60min_cpu",
        ["data.class_uniform=0", "kd.teacher=ddrnet23_slim", "kd.feature_weight=1"],
    )
    words = camvid_cpu._extras(kd)
    assert words.startswith("no class-uniform crops, EMA 0.995, distillation from ddrnet23_slim")
    assert "features 1 at level -1" in words


def test_a_recipe_without_a_budget_is_refused(camvid_cpu, capsys) -> None:
    with pytest.raises(SystemExit):
        camvid_cpu.main(["--config", "demo", "--no-doc"])
    assert "has no train.max_minutes; pass --minutes" in capsys.readouterr().err
