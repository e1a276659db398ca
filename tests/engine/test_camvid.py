"""Real data: a few dozen iterations on a CamVid subset learn something."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ffseg.config import load_config
from ffseg.engine.train import TrainState, fit


@pytest.mark.slow
def test_camvid_subset_loss_falls_and_beats_majority_class(camvid_root: Path, tmp_path) -> None:
    cfg = load_config(
        "demo",
        [
            "data.name=camvid",
            f"data.root={camvid_root}",
            "data.train_kwargs={}",
            "data.val_kwargs={}",
            "data.subset=48",
            "data.val_subset=12",
            "data.crop_size=[120, 160]",
            "data.scale_range=[0.3, 0.45]",
            "data.batch_size=4",
            "eval.resize=[120, 160]",
            "train.iters=36",
            "train.eval_every=100",
            "sched.warmup_iters=4",
            "optim.lr=0.004",
            f"train.output_dir={tmp_path}",
            "log.progress=false",
            "log.tensorboard=false",
            "log.overlays=0",
        ],
    )
    losses: list[float] = []

    def record(state: TrainState) -> None:
        losses.append(state.last["loss"])

    result = fit(cfg, on_step=record)
    assert len(losses) == 36
    first, last = sum(losses[:6]) / 6, sum(losses[-6:]) / 6
    assert last < 0.8 * first, f"loss did not fall: {first:.3f} -> {last:.3f}"

    # majority-class baseline on the same 12 validation masks, as stored (where they are scored)
    from ffseg.data import build_dataset, eval_transforms

    val = build_dataset("camvid", camvid_root, "val", eval_transforms())
    counts = torch.zeros(11, dtype=torch.int64)
    for i in range(12):
        mask = val[i][1]
        counts += torch.bincount(mask[mask != 255].flatten(), minlength=11)[:11]
    majority = float(counts.max() / counts.sum())
    assert result.metrics["aacc"] > majority + 0.05, (result.metrics["aacc"], majority)
