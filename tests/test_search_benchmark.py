"""benchmarks/ffnet_search_camvid.py without training: the verdict and the written report."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def search():
    with benchmark_script("ffnet_search_camvid") as module:
        yield module


def _ref(model: str, kind: str, miou: float, ms: float, iterations: int) -> dict[str, str]:
    return {
        "model": model,
        "kind": kind,
        "val_miou": f"{miou:.2f}",
        "latency_ms": f"{ms:.1f}",
        "iterations": str(iterations),
        "budget_min": "2",
        "date": "2026-12-06 00:00 UTC",
    }


REFS = [
    _ref("fastscnn", "zoo", 35.0, 8.0, 300),
    _ref("ffnet40s_dbbb_mobile", "registered FFNet", 23.0, 50.0, 120),
    _ref("ffnet40s_bbb_mobile", "registered FFNet", 17.0, 200.0, 1),
]
FRONT = [{"model": "ffnet22s_dbcb_mobile (trial 6)", "val_miou": "28.00", "latency_ms": "35.0"}]


def test_verdict_compares_every_reference_at_equal_or_lower_latency(search) -> None:
    lines = search.verdict(FRONT, REFS)
    assert [line.split("`")[1] for line in lines] == [
        "ffnet40s_dbbb_mobile",  # registered FFNets first
        "ffnet40s_bbb_mobile",
        "fastscnn",
    ]
    assert "beats it by +5.00 mIoU" in lines[0]
    assert "no searched network as fast" in lines[2]  # 35 ms > 8 ms * 1.05


def test_report_keeps_the_tables_and_flags_a_starved_reference(search, tmp_path) -> None:
    trials = tmp_path / "study" / "trials.csv"
    trials.parent.mkdir()
    trials.write_text("number,state\n0,COMPLETE\n")
    result = SimpleNamespace(
        best=[
            {
                "number": 6,
                "values": [0.28, 35.0],
                "params": {"model.name": "ffnet22s_dbcb_mobile", "optim.lr": 1e-3},
            }
        ],
        trials_csv=trials,
    )
    args = argparse.Namespace(out_dir=str(tmp_path / "docs"), backend="onnxruntime")
    args.precision, args.minutes = "fp32", 2.0
    search.report(args, result, REFS, "header")
    text = (tmp_path / "docs" / "search.md").read_text()
    assert "| `ffnet40s_bbb_mobile` | registered FFNet | 17.00 | 200.0 | 1 |" in text
    assert "`ffnet40s_bbb_mobile`: fewer than 20 iterations" in text
    assert "`fastscnn`" not in text.split("fewer than")[0].splitlines()[-1]
    assert (tmp_path / "docs" / "search_trials.csv").read_text() == trials.read_text()
    kept = search.read_rows(tmp_path / "docs" / "search_references.csv")
    assert kept == REFS
