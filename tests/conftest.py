"""Shared test setup: CPU only, deterministic, small thread count, real-data location."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import ModuleType

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


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@contextmanager
def benchmark_script(name: str) -> Iterator[ModuleType]:
    """``benchmarks/<name>.py`` imported as a module, its folder on ``sys.path`` meanwhile (the
    scripts share ``benchmarks/_report.py``)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)
        sys.path.remove(str(BENCHMARKS))
