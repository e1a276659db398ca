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


REPRESENTATIVE = [  # one real training step each: every structural variant, small to large
    "ffnet18_daac", "ffnet34_abb", "ffnet50_aaa", "ffnet40s_bcc_mobile_pre_down",
    "ffnet40s_dbbb_mobile", "ffnet46n_cbb", "ffnet46ns_ccc_mobile", "ffnet40s_bbx_mobile",
    "ffnet46n_cbx",
]  # fmt: skip


def _meta_model(name: str, **kwargs: object) -> torch.nn.Module:
    with torch.device("meta"):
        return ffseg.create_model(name, **kwargs)


@pytest.mark.parametrize("name", CANONICAL)
def test_official_layout_loads_strict(name: str) -> None:
    """Every official key/shape list loads with strict=True (shapes only; files: test_weights)."""
    golden = _golden_for(name)
    model = _meta_model(name)
    state = {key: torch.empty(shape, device="meta") for key, shape in golden["state_dict"]}
    model.load_state_dict(state, strict=True, assign=True)


@pytest.mark.parametrize("name", CANONICAL)
def test_output_shapes_at_other_inputs(name: str) -> None:
    golden = _golden_for(name)
    model = _meta_model(name).eval()
    if model.task == "classification":  # (B, 1000) for every batch size, batch 1 included
        assert model(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1000)
        assert model(torch.empty(2, 3, 256, 256, device="meta")).shape == (2, 1000)
        return
    for size, expected in golden["output_shape_at_other_inputs"].items():
        h, w = (int(v) for v in size.split("x"))
        assert list(model(torch.empty(1, 3, h, w, device="meta")).shape) == expected, size


@pytest.mark.parametrize("name", CANONICAL)
def test_real_forward_is_finite(name: str) -> None:
    torch.manual_seed(0)
    model = ffseg.create_model(name).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 96, 128))
    assert torch.isfinite(out).all() and out.std() > 0
    assert out.shape[:2] == (2, model.num_classes)


@pytest.mark.parametrize("name", CANONICAL)
def test_every_parameter_is_trained(name: str) -> None:
    """forward_train + backward reaches every parameter (autograd on the meta device)."""
    model = _meta_model(name).train()
    x = torch.empty(2, 3, 64, 96, device="meta")
    out = model.forward_train(x)
    assert isinstance(out, ffseg.SegOutput)
    loss = out.logits.square().mean() + sum(a.logits.square().mean() for a in out.aux)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no gradient for {missing[:5]}"


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_real_train_step(name: str) -> None:
    torch.manual_seed(0)
    model = ffseg.create_model(name).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = model.forward_train(torch.randn(2, 3, 64, 96))
    loss = out.logits.logsumexp(1).mean()
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    optimizer.step()
    # every weight moves (a conv bias right before BN legitimately gets ~zero gradient)
    frozen = [n for n, p in model.named_parameters() if p.dim() > 1 and torch.equal(p, before[n])]
    assert not frozen, frozen[:5]


@pytest.mark.parametrize("name", CANONICAL)
def test_num_classes_changes_only_the_classifier(name: str) -> None:
    model, other = _meta_model(name), _meta_model(name, num_classes=5)
    ours, theirs = model.state_dict(), other.state_dict()
    assert ours.keys() == theirs.keys()
    changed = {k for k in ours if ours[k].shape != theirs[k].shape}
    prefix = model.classifier_path
    assert changed and all(k.startswith(prefix) for k in changed)
    assert other.pretrained_cfg.num_classes == 5 and other.pretrained_cfg.classes is None
