"""benchmarks/train_overhead.py on the demo recipe: the pure step, the loop and the ratio."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def train_overhead():
    with benchmark_script("train_overhead") as module:
        yield module


def test_rows_relate_the_loop_to_its_steps(train_overhead, tmp_path: Path) -> None:
    overrides = [
        f"train.output_dir={tmp_path}",
        "log.progress=false",
        "log.tensorboard=false",
        "log.overlays=0",
        "data.train_kwargs={n: 8, size: [48, 64], seed: 0}",
        "data.val_kwargs={n: 2, size: [48, 64], seed: 1}",
        "data.crop_size=[48, 64]",
        "data.batch_size=2",
        "model.kwargs.backbone=resnet22s",
    ]
    pure = train_overhead.measure("demo", overrides, iters=6, workers=0)
    loop = train_overhead.measure("demo", overrides, iters=6, workers=1)
    assert len(pure.times.steps) == 6 and len(pure.times.intervals) == 5
    row = train_overhead.row(1, pure, loop, skip=2, batch=2)
    assert row["workers"] == 1 and row["pure_step_s"] > 0 and row["data_cpu_s"] >= 0
    assert row["efficiency"] == pytest.approx(row["pure_step_s"] / row["e2e_s"])
    assert row["e2e_img_s"] == pytest.approx(2 / row["e2e_s"])
    table = train_overhead.table([row])
    assert table.count("\n") == 2 and "| 1 | 1 |" in table


def test_too_few_iterations_are_refused(train_overhead, capsys) -> None:
    with pytest.raises(SystemExit):
        train_overhead.main(["--config", "demo", "--iters", "4", "--skip", "2", "--no-doc"])
    assert "--iters must leave at least 3 iterations after --skip" in capsys.readouterr().err
