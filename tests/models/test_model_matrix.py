"""The registry-wide test matrix for every non-FFNet model (the zoo).

Each registered model is covered automatically. A new model needs only its parameter count in
``tests/golden/params/<module>.json`` (``{"name": params}``, 19 classes); the input size used
here is ``pretrained_cfg.min_input_size`` rounded up to a multiple of 64 (at least 128x128).
FFNet models have their own, stricter golden tests in ``test_ffnet_matrix.py``.
"""

from __future__ import annotations

import json
import math
from functools import cache

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models import get_model_entry
from tests.conftest import GOLDEN

ZOO = ffseg.list_models(exclude_filters="ffnet*")


@cache
def golden_params(module: str) -> dict[str, int]:
    path = GOLDEN / "params" / f"{module}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def test_input_size(model: torch.nn.Module) -> tuple[int, int]:
    h, w = model.pretrained_cfg.min_input_size
    return (max(128, math.ceil(h / 64) * 64), max(128, math.ceil(w / 64) * 64))


test_input_size.__test__ = False  # a helper, not a test


@pytest.fixture(scope="module", params=ZOO)
def built(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module]:
    torch.manual_seed(0)
    return request.param, ffseg.create_model(request.param).eval()


def test_params_equal_golden(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    module = get_model_entry(name).module
    expected = golden_params(module).get(name)
    assert expected is not None, f"add {name} to tests/golden/params/{module}.json"
    assert count_params(model) == expected


def test_metadata_is_complete(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    cfg = model.pretrained_cfg
    assert cfg.architecture == name
    assert cfg.paper and cfg.license and cfg.family
    assert cfg.output_stride is None or cfg.output_stride >= 1
    assert cfg.classifier, "pretrained_cfg.classifier must name the final layer"
    model.get_submodule(cfg.classifier)


def test_eval_output_shape(built: tuple[str, torch.nn.Module]) -> None:
    _name, model = built
    cfg = model.pretrained_cfg
    h, w = test_input_size(model)
    with torch.inference_mode():
        out = model(torch.randn(2, 3, h, w))
    assert isinstance(out, torch.Tensor), "forward must return one tensor"
    if cfg.task == "classification":
        assert out.shape == (2, cfg.num_classes)
    else:
        assert out.shape == (2, cfg.num_classes, h // cfg.output_stride, w // cfg.output_stride)
    assert torch.isfinite(out).all()


def test_train_step_reaches_every_parameter(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    h, w = test_input_size(model)
    model.train()
    try:
        out = model.forward_train(torch.randn(2, 3, h, w))
        assert isinstance(out, ffseg.SegOutput)
        loss = out.logits.square().mean()
        for aux in out.aux:
            assert aux.logits.shape[0] == 2 and aux.weight >= 0
            loss = loss + aux.logits.square().mean()
        loss.backward()
        missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
        assert not missing, f"{name}: no gradient for {missing[:5]}"
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()


def test_num_classes_change(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    other = ffseg.create_model(name, num_classes=3).eval()
    h, w = test_input_size(model)
    with torch.inference_mode():
        out = other(torch.randn(1, 3, h, w))
    assert out.shape[1] == 3 and other.pretrained_cfg.num_classes == 3


def test_save_load_round_trip(built: tuple[str, torch.nn.Module], tmp_path) -> None:
    _name, model = built
    ffseg.save_pretrained(model, tmp_path)
    loaded = ffseg.load_pretrained(tmp_path).eval()
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    x = torch.randn(1, 3, *test_input_size(model))
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))
