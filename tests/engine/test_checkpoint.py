"""Checkpoints: atomic writes, weights_only loading, RNG round trip, EMA, LR schedule."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from ffseg._io import atomic_write
from ffseg.engine.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from ffseg.engine.ema import ModelEMA
from ffseg.engine.optim import build_optimizer, lr_factor, param_groups


def test_interrupted_write_keeps_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint({"step": torch.tensor(1)}, path)

    def dies_halfway(tmp: str) -> None:
        Path(tmp).write_bytes(b"partial")
        raise KeyboardInterrupt  # the process is killed mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, dies_halfway)
    assert int(load_checkpoint(path)["step"]) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left


def test_rng_states_round_trip_through_weights_only_load(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    save_checkpoint({"rng": capture_rng_state()}, tmp_path / "c.pt")
    expected = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    restore_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(3), expected[2])


def test_load_checkpoint_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"run folder containing last\.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match=r"bad\.pt"):
        load_checkpoint(bad)


def test_ema_follows_weights_with_warmup() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = ModelEMA(model, decay=0.9, warmup=1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    before = [p.clone() for p in ema.module.parameters()]
    ema.update_parameters(model)  # first update copies the weights
    ema.update_parameters(model)
    d = ema.current_decay(1)
    for b, e, m in zip(before, ema.module.parameters(), model.parameters()):
        assert torch.allclose(e, m)
        assert not torch.equal(b, e)
    assert 0 < d < 0.9


def test_lr_schedule_warmup_poly_cosine() -> None:
    poly = SimpleNamespace(
        name="poly", power=1.0, warmup_iters=10, warmup_factor=0.1, min_lr_ratio=0.0
    )
    assert lr_factor(0, 110, poly) == pytest.approx(0.1)
    assert lr_factor(5, 110, poly) == pytest.approx(0.55)
    assert lr_factor(10, 110, poly) == pytest.approx(1.0)
    assert lr_factor(60, 110, poly) == pytest.approx(0.5)
    assert lr_factor(110, 110, poly) == pytest.approx(0.0)
    cos = SimpleNamespace(
        name="cosine", power=1.0, warmup_iters=0, warmup_factor=1.0, min_lr_ratio=0.1
    )
    assert lr_factor(50, 100, cos) == pytest.approx(0.1 + 0.9 * 0.5)


def test_optimizers_and_param_groups() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    groups = param_groups(model, 1e-4)
    decays = sorted(g["weight_decay"] for g in groups)
    assert decays == [0.0, 1e-4]  # conv weight decays; bias and BN do not
    for name, kind in (
        ("sgd", torch.optim.SGD),
        ("adamw", torch.optim.AdamW),
        ("rmsprop", torch.optim.RMSprop),
    ):
        cfg = SimpleNamespace(
            name=name,
            lr=0.1,
            momentum=0.9,
            nesterov=False,
            betas=(0.9, 0.99),
            eps=1e-8,
            alpha=0.99,
            weight_decay=1e-4,
            norm_bias_decay=False,
            backbone_lr_mult=1.0,
        )
        assert isinstance(build_optimizer(model, cfg), kind)
