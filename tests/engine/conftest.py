"""A tiny, fast training recipe for the engine tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ffseg.config import Config, load_config

TINY = [
    "data.train_kwargs={n: 16, size: [64, 64], seed: 0}",
    "data.val_kwargs={n: 4, size: [64, 64], seed: 1}",
    "data.crop_size=[64, 64]",
    "data.scale_range=[1.0, 1.0]",
    "data.batch_size=4",
    "model.kwargs.backbone=resnet22s",
    "train.iters=4",
    "train.eval_every=100",
    "sched.warmup_iters=2",
    "log.progress=false",
    "log.tensorboard=false",
    "log.overlays=0",
]


@pytest.fixture
def tiny_cfg(tmp_path: Path) -> Callable[..., Config]:
    """``tiny_cfg(*overrides)``: the demo recipe shrunk to 64x64 images and 4 iterations."""

    def make(*overrides: str) -> Config:
        return load_config("demo", [*TINY, f"train.output_dir={tmp_path}", *overrides])

    return make
