"""SegNet: the paper's parameter count, torchvision VGG16-BN keys and pooling-index unpooling."""

from __future__ import annotations

import torch
import torchvision
from torch.nn import functional as F

import ffseg
from ffseg.deploy.flops import count_params
from ffseg.models.segnet import VGG16BNEncoder


def test_params_match_paper() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("segnet")
    assert abs(count_params(model) / 29.5e6 - 1) < 0.005  # paper 29.5 M; ours 29.45 M


def test_encoder_takes_torchvision_vgg16_bn_keys() -> None:
    with torch.device("meta"):
        encoder = ffseg.create_model("segnet").encoder
        vgg = torchvision.models.vgg16_bn()
    ours = {k: v.shape for k, v in encoder.state_dict().items()}
    theirs = {k: v.shape for k, v in vgg.state_dict().items() if k.startswith("features.")}
    assert ours == theirs


def test_unpooling_puts_values_at_the_max_positions() -> None:
    with torch.no_grad():
        feats, switches = VGG16BNEncoder().eval().forward_switches(torch.randn(1, 3, 64, 64))
        indices, size = switches[-1]
        sparse = F.max_unpool2d(torch.ones_like(feats[-1]), indices, 2, 2, output_size=size)
    assert [tuple(s) for _, s in switches] == [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4)]
    assert sparse.shape[-2:] == (4, 4) and int(sparse.sum()) == 512 * 4  # one per 2x2 window


def test_segnet_basic_is_the_authors_small_setting() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("segnet_basic")
    assert count_params(model) == 1_417_107  # SegNet-Tutorial segnet_basic prototxt, 19 classes
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(7, 7)] * 8 + [(1, 1)]
    assert not any(isinstance(m, torch.nn.ReLU) for m in model.decoder.modules())
    with torch.no_grad():
        out = ffseg.create_model("segnet_basic", num_classes=3).eval()(torch.randn(1, 3, 48, 80))
    assert out.shape == (1, 3, 48, 80)
