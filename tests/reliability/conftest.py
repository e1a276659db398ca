"""Shared fixtures of the reliability tests: a small model and an 11-class checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import ffseg

#: A small registered model every CLI reliability test uses.
MODEL = "ffnet40s_bbb_mobile"


@pytest.fixture(scope="session")
def ckpt11(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 11-class checkpoint file (a plain state dict) of :data:`MODEL`."""
    model = ffseg.create_model(MODEL, num_classes=11)
    path = tmp_path_factory.mktemp("ckpt") / "m11.pth"
    torch.save(model.state_dict(), path)
    return path
