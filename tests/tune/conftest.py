"""A tiny SyntheticScenes recipe and search spaces for the ``ffseg tune`` tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("optuna")

#: The demo recipe with a tiny network on 32x32 images: 2 iterations, one evaluation after each.
TINY = [
    "data.train_kwargs={n: 4, size: [32, 32], seed: 0}",
    "data.val_kwargs={n: 2, size: [32, 32], seed: 1}",
    "data.crop_size=[32, 32]",
    "data.scale_range=[1.0, 1.0]",
    "data.batch_size=4",
    "model.name=tests.tune.tiny:TinyNet",
    "model.kwargs={width: 8}",
    "train.iters=2",
    "train.eval_every=1",
    "sched.warmup_iters=1",
    "log.progress=false",
    "log.tensorboard=false",
    "log.overlays=0",
]

LR_SPACE = "optim.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}\n"


@pytest.fixture
def write_space(tmp_path: Path) -> Callable[[str], Path]:
    """``write_space(text)``: a search-space file holding ``text``."""

    def write(text: str, name: str = "space.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
