"""A tiny saved model and its results-API predictor, shared by the server tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import ffseg
from ffseg.inference.results import Predictor


@pytest.fixture(scope="package")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model") / "fssnet"
    ffseg.save_pretrained(ffseg.create_model("fssnet", num_classes=5).eval(), folder)
    return folder


@pytest.fixture(scope="package")
def predictor(model_dir: Path) -> Predictor:
    return ffseg.load(model_dir, size=(32, 48))  # the tests' image size: fast, like a run
