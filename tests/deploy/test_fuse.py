"""BN folding: parity with the unfolded model over the whole registry, and its edge cases."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ffseg
from ffseg.deploy.fuse import find_conv_bn_pairs, fold_batchnorm, prepare_for_inference


@pytest.fixture(scope="module", autouse=True)
def _flush_denormals():
    """Randomly initialised deep nets produce denormals; flushing keeps the matrix fast.

    The flag is per thread, so compute runs on this one thread (inputs are small anyway).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)
    torch.set_num_threads(threads)


def _randomise_bn(model: nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def _input_for(model: nn.Module) -> torch.Tensor:
    h, w = 64, 128
    min_h, min_w = getattr(model.pretrained_cfg, "min_input_size", (32, 32))
    return torch.randn(1, 3, max(h, min_h), max(w, min_w))


@pytest.mark.parametrize("name", ffseg.list_models())
@torch.no_grad()
def test_folded_equals_unfolded(name: str) -> None:
    # float64: the check sees folding errors (a dropped eps is ~1e-5), not float32 round-off,
    # which attention gates over an untrained net's large activations magnify past 1e-5
    model = ffseg.create_model(name).eval().double()
    _randomise_bn(model)
    x = _input_for(model).double()
    reference = model(x)
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    folded = fold_batchnorm(model, x)
    out = model(x)
    # MiniNet, as its authors built it, has no batch norm: nothing to fold, nothing changed
    assert (folded > 0) == has_bn, f"{name}: {folded} conv-BN pairs folded, BN present: {has_bn}"
    rel = (out - reference).abs().max() / reference.abs().max().clamp_min(1e-30)
    assert rel <= 1e-9, f"{name}: relative difference {rel:.3g}"
    assert find_conv_bn_pairs(model, x) == []  # nothing foldable left behind


def test_pairs_skip_shared_outputs_and_fold_linear() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.bn_a = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
            self.b, self.bn_b = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)  # b's output used twice
            self.fc, self.bn_fc = nn.Linear(4, 5), nn.BatchNorm1d(5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.bn_a(self.a(x))
            z = self.b(y)
            y = self.bn_b(z) + z
            return self.bn_fc(self.fc(y.mean((2, 3))))

    net = Net().eval()
    _randomise_bn(net)
    x = torch.randn(2, 3, 8, 8)
    assert sorted(find_conv_bn_pairs(net, x)) == [("a", "bn_a"), ("fc", "bn_fc")]
    with torch.no_grad():
        reference = net(x)
        prepared = prepare_for_inference(net, example_input=x)
        torch.testing.assert_close(prepared(x), reference, rtol=1e-5, atol=1e-6)
    assert isinstance(prepared.bn_a, nn.Identity) and isinstance(prepared.bn_b, nn.BatchNorm2d)
    assert isinstance(net.bn_a, nn.BatchNorm2d), "prepare_for_inference must copy by default"
    assert not any(p.requires_grad for p in prepared.parameters())


def test_prepare_channels_last_bf16() -> None:
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=5, init="kaiming").eval()
    x = torch.randn(1, 3, 64, 96)
    prepared = prepare_for_inference(model, channels_last=True, dtype=torch.bfloat16)
    conv = prepared.get_submodule("backbone_model.conv1")
    assert conv.weight.dtype == torch.bfloat16
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = model(x)
        out = prepared(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last))
    agree = (out.float().argmax(1) == ref.argmax(1)).float().mean()
    assert agree > 0.9


def test_meta_model_is_left_alone() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("ffnet40s_bbb_mobile")
    assert fold_batchnorm(model) == 0
