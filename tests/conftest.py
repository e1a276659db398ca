"""Shared test setup: CPU only, deterministic, small thread count, real-data location."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden"
#: The real CamVid data sits in ../shared beside the repository (CI and developers alike).
CAMVID_ROOT = Path(
    os.environ.get("FFSEG_CAMVID_ROOT", TESTS.parent.parent / "shared" / "datasets" / "camvid")
)

torch.set_num_threads(min(2, os.cpu_count() or 1))


@lru_cache(maxsize=1)
def ffnet_golden() -> dict[str, dict]:
    """The official FFNet models (name -> settings, params, state_dict keys/shapes, shapes)."""
    data = json.loads((GOLDEN / "ffnet_models.json").read_text())
    return {m["name"]: m for m in data["models"]}


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def camvid_root() -> Path:
    if not (CAMVID_ROOT / "train.txt").is_file():
        pytest.skip(f"CamVid not found at {CAMVID_ROOT} (set FFSEG_CAMVID_ROOT)")
    return CAMVID_ROOT
