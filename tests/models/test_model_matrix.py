"""The registry-wide test matrix: every registered model is covered automatically.

Two kinds of checks:

* the skeleton, for EVERY model (zoo and FFNet), cheap because the model is built on the meta
  device: a :class:`~ffseg.models.SegModel`, a default cfg readable without building that
  matches the built model's, the classifier, ``reset_classifier``, ``feature_encoder`` against
  ``feature_info`` (timm's registry-wide features check) and the capability flags;
* real forward / backward / save-load / tracing checks for the zoo (FFNet models have their
  own, stricter golden tests in ``test_ffnet_*.py``).

A new zoo model needs only its parameter count in ``tests/golden/params/<module>.json``
(``{"name": params}``, 19 classes). The input size used here is
``pretrained_cfg.min_input_size`` rounded up to a multiple of 64 (at least 128x128).
"""

from __future__ import annotations

import json
import math
from functools import cache

import pytest
import torch
from torch import nn

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models import SegModel, get_model_entry, get_pretrained_cfg
from tests.conftest import GOLDEN

ALL = ffseg.list_models()
ZOO = ffseg.list_models(exclude_filters="ffnet*")
#: cfg fields that the registered default and the built model must agree on
SHARED_FIELDS = (
    "architecture", "family", "task", "num_classes", "input_size", "output_stride",
    "published", "published_context", "classes", "weight_file", "license", "paper", "dataset",
)  # fmt: skip
FLAGS = ("supports_dynamic_shapes", "supports_torchscript", "supports_int8")


@cache
def golden_params(module: str) -> dict[str, int]:
    path = GOLDEN / "params" / f"{module}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def input_size_for(cfg: ffseg.PretrainedCfg) -> tuple[int, int]:
    """A small input the model accepts: its minimum rounded up to 64 (at least 128x128)."""
    h, w = cfg.min_input_size
    return (max(128, math.ceil(h / 64) * 64), max(128, math.ceil(w / 64) * 64))


def meta_model(name: str, **kwargs: object) -> nn.Module:
    with torch.device("meta"):  # shapes only: fast for 100M-parameter models
        return ffseg.create_model(name, **kwargs).eval()


def out_channels(layer: nn.Module) -> int:
    return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels


# ---- the skeleton, every registered model (meta device) ---------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_registered_cfg_matches_built_model(name: str) -> None:
    cfg = get_pretrained_cfg(name)  # read without building (test_registry proves it builds none)
    assert cfg.architecture == name
    assert cfg.paper and cfg.license and cfg.family
    assert cfg.output_stride is None or cfg.output_stride >= 1
    model = meta_model(name)
    assert isinstance(model, SegModel), f"{name}: subclass ffseg.models.SegModel"
    built = model.pretrained_cfg
    for field in SHARED_FIELDS:
        assert getattr(built, field) == getattr(cfg, field), f"{name}: {field} differs"


@pytest.mark.parametrize("name", ALL)
def test_parts_and_capability_flags(name: str) -> None:
    model = meta_model(name)
    for flag in FLAGS:
        assert isinstance(getattr(model, flag), bool), f"{name}.{flag} must be a bool"
    prefix = model.encoder_prefix
    assert prefix.endswith(".") and any(k.startswith(prefix) for k in model.state_dict())
    classifier = model.get_classifier()
    assert out_channels(classifier) == model.num_classes == model.pretrained_cfg.num_classes
    aux = getattr(model, "aux_heads", None)
    assert aux is None or isinstance(aux, nn.ModuleDict), "aux heads live in one ModuleDict"


@pytest.mark.parametrize("name", ALL)
def test_reset_classifier(name: str) -> None:
    model = meta_model(name)
    model.reset_classifier(5)
    assert out_channels(model.get_classifier()) == 5 and model.num_classes == 5
    assert model.pretrained_cfg.num_classes == 5 and model.pretrained_cfg.classes is None
    out = model(torch.empty(1, 3, *input_size_for(model.pretrained_cfg), device="meta"))
    assert out.shape[1] == 5


@pytest.mark.parametrize("name", ALL)
def test_feature_encoder_matches_feature_info(name: str) -> None:
    model = meta_model(name)
    encoder = model.feature_encoder()
    info = encoder.feature_info
    h, w = (2 * s for s in input_size_for(model.pretrained_cfg))
    feats = encoder(torch.empty(1, 3, h, w, device="meta"))
    assert len(feats) == len(info) >= 1
    for i, (feat, level) in enumerate(zip(feats, info)):
        assert feat.shape[1] == level.num_chs, f"{name}: level {i} channels"
        assert round(h / feat.shape[-2]) == level.reduction, f"{name}: level {i} reduction"
        assert round(w / feat.shape[-1]) == level.reduction, f"{name}: level {i} reduction"
    shared = {id(p) for p in model.parameters()}
    assert all(id(p) in shared for p in encoder.parameters()), "the encoder shares the weights"


# ---- real checks, the zoo --------------------------------------------------------------------


@pytest.fixture(scope="module", params=ZOO)
def built(request: pytest.FixtureRequest) -> tuple[str, nn.Module]:
    torch.manual_seed(0)
    return request.param, ffseg.create_model(request.param).eval()


def test_params_equal_golden(built: tuple[str, nn.Module]) -> None:
    name, model = built
    module = get_model_entry(name).module
    expected = golden_params(module).get(name)
    assert expected is not None, f"add {name} to tests/golden/params/{module}.json"
    assert count_params(model) == expected


def test_eval_output_shape(built: tuple[str, nn.Module]) -> None:
    _name, model = built
    cfg = model.pretrained_cfg
    h, w = input_size_for(cfg)
    with torch.inference_mode():
        out = model(torch.randn(2, 3, h, w))
    assert isinstance(out, torch.Tensor), "forward must return one tensor"
    if cfg.task == "classification":
        assert out.shape == (2, cfg.num_classes)
    else:
        assert out.shape == (2, cfg.num_classes, h // cfg.output_stride, w // cfg.output_stride)
    assert torch.isfinite(out).all()


def test_train_step_reaches_every_parameter(built: tuple[str, nn.Module]) -> None:
    name, model = built
    h, w = input_size_for(model.pretrained_cfg)
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


def test_num_classes_change(built: tuple[str, nn.Module]) -> None:
    name, model = built
    other = ffseg.create_model(name, num_classes=3).eval()
    h, w = input_size_for(model.pretrained_cfg)
    with torch.inference_mode():
        out = other(torch.randn(1, 3, h, w))
    assert out.shape[1] == 3 and other.pretrained_cfg.num_classes == 3


def test_torchscript_trace_when_declared(built: tuple[str, nn.Module]) -> None:
    name, model = built
    if not model.supports_torchscript:
        pytest.skip(f"{name} declares supports_torchscript = False")
    h, w = input_size_for(model.pretrained_cfg)
    x, other = torch.randn(1, 3, h, w), torch.randn(1, 3, h, w + 64)
    with torch.no_grad():
        traced = torch.jit.trace(model, x, check_trace=False)
        torch.testing.assert_close(traced(x), model(x), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(traced(other), model(other), rtol=1e-4, atol=1e-4)


def test_save_load_round_trip(built: tuple[str, nn.Module], tmp_path) -> None:
    _name, model = built
    ffseg.save_pretrained(model, tmp_path)
    loaded = ffseg.load_pretrained(tmp_path).eval()
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    x = torch.randn(1, 3, *input_size_for(model.pretrained_cfg))
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))
    assert loaded.pretrained_cfg == model.pretrained_cfg
