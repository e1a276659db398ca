"""benchmarks/gpu_check.py on a machine without CUDA: every CUDA part skips, exit 0."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def gpu_check():
    with benchmark_script("gpu_check") as module:
        yield module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only behaviour")
def test_cuda_parts_skip_with_a_reason_and_exit_0(gpu_check, capsys) -> None:
    assert gpu_check.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped no CUDA device") == len(gpu_check.CHECKS)
    assert "0 failed" in out


def test_spearman_and_the_published_latencies(gpu_check) -> None:
    assert gpu_check.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert gpu_check.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert gpu_check.spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(0.866, abs=1e-3)
    paper = gpu_check.gpu_ffnets()
    assert len(paper) >= 10 and all(ms > 0 for ms in paper.values())
    assert len(gpu_check.one_per_family()) >= 10
