"""Every official FFNet against the golden description of the official release.

Golden data (tests/golden/ffnet_models.json) was produced by instantiating the official
model definitions: parameter counts, every state_dict key and shape, output shapes, MACs.
"""

from __future__ import annotations

import pytest
import torch

import ffseg
from ffseg.deploy.flops import count_macs, count_params
from tests.conftest import ffnet_golden

OFFICIAL = sorted(ffnet_golden())
CANONICAL = ffseg.list_models("ffnet*")


def _golden_for(canonical: str) -> dict:
    """The golden entry of the official (non-_train) name behind a canonical name."""
    entries = [g for n, g in ffnet_golden().items() if ffseg.models.resolve_name(n) == canonical]
    return next(g for g in entries if not g["name"].endswith("_train"))


@pytest.mark.parametrize("name", OFFICIAL)
def test_state_dict_and_params_match_official(name: str) -> None:
    golden = ffnet_golden()[name]
    with torch.device("meta"):  # shapes only: fast for 100M-parameter models
        model = ffseg.create_model(name)
    assert count_params(model) == golden["params"]
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    theirs = [(k, list(shape)) for k, shape in golden["state_dict"]]
    assert sorted(ours) == sorted(theirs)
    assert len(ours) == golden["state_dict_entries"]


@pytest.mark.parametrize("name", OFFICIAL)
def test_macs_match_official(name: str) -> None:
    golden = ffnet_golden()[name]
    with torch.device("meta"):
        model = ffseg.create_model(name)
    assert count_macs(model, tuple(golden["native_input_hw"])) == golden["macs_conv_linear"]
    cfg = model.pretrained_cfg
    assert list(cfg.input_size[1:]) == golden["native_input_hw"]
    if not name.endswith("_train"):  # _train examples point at an ImageNet backbone file
        assert cfg.weight_file == golden["official_weight_file"]


@pytest.fixture(scope="module", params=CANONICAL)
def built(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module]:
    """One real (randomly initialised) model per canonical name, shared by the tests below."""
    torch.manual_seed(0)
    return request.param, ffseg.create_model(request.param).eval()


def test_official_layout_loads_strict(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    golden = _golden_for(name)
    generator = torch.Generator().manual_seed(1)
    state = {}
    for key, shape in golden["state_dict"]:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    if "smoothing.weight" in state:  # the buffer is a fixed kernel, not random
        state["smoothing.weight"] = model.state_dict()["smoothing.weight"].clone()
    model.load_state_dict(state, strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_eval_output_shapes_and_values(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    golden = _golden_for(name)
    if model.task == "classification":
        with torch.inference_mode():
            assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
            out = model(torch.randn(2, 3, 256, 256))
        assert out.shape == (2, 1000) and torch.isfinite(out).all()
        return
    for size, expected in golden["output_shape_at_other_inputs"].items():
        h, w = (int(v) for v in size.split("x"))
        with torch.inference_mode():
            out = model(torch.randn(1, 3, h, w))
        assert list(out.shape) == expected, size
        assert torch.isfinite(out).all()
        assert out.std() > 0


def test_train_step_reaches_every_parameter(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    model.train()
    try:
        if model.task == "classification":
            loss = model(torch.randn(2, 3, 64, 64)).logsumexp(1).mean()
        else:
            out = model.forward_train(torch.randn(2, 3, 64, 96))
            assert isinstance(out, ffseg.SegOutput)
            loss = out.logits.square().mean() + sum(a.logits.square().mean() for a in out.aux)
        loss.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert not missing, f"{name}: no gradient for {missing[:5]}"
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()


def test_num_classes_changes_only_the_classifier(built: tuple[str, torch.nn.Module]) -> None:
    name, model = built
    with torch.device("meta"):
        other = ffseg.create_model(name, num_classes=5)
    ours, theirs = model.state_dict(), other.state_dict()
    assert ours.keys() == theirs.keys()
    changed = {k for k in ours if ours[k].shape != theirs[k].shape}
    prefix = model.pretrained_cfg.classifier
    assert changed and all(k.startswith(prefix) for k in changed)
    assert other.pretrained_cfg.num_classes == 5 and other.pretrained_cfg.classes is None
