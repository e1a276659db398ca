"""FFNet forward passes against a second, purely functional implementation of the spec.

The reference below reads only a state_dict and the spec's rules (module names, strides, head
layouts, upsampling modes, concat order) and is written with torch.nn.functional alone, so a
wiring mistake in the modules (wrong stride, order, mode or align_corners) shows up as a
numerical difference.
"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

import ffseg
from ffseg.models.ffnet_parts import gaussian_kernel_5x5

Sd = dict[str, torch.Tensor]


def bn(sd: Sd, p: str, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(
        x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"], sd[f"{p}.bias"],
        training=False, eps=1e-5,
    )  # fmt: skip


def conv(sd: Sd, p: str, x: torch.Tensor, stride: int = 1) -> torch.Tensor:
    w = sd[f"{p}.weight"]
    return F.conv2d(x, w, sd.get(f"{p}.bias"), stride=stride, padding=w.shape[-1] // 2)


def cbr(sd: Sd, p: str, x: torch.Tensor) -> torch.Tensor:  # FFNet "ConvBNReLU"
    return F.relu(bn(sd, f"{p}.layers.1", conv(sd, f"{p}.layers.0", x)))


def block(sd: Sd, p: str, x: torch.Tensor, stride: int) -> torch.Tensor:
    if f"{p}.conv3.weight" in sd:  # bottleneck: stride on the 3x3
        y = F.relu(bn(sd, f"{p}.bn1", conv(sd, f"{p}.conv1", x)))
        y = F.relu(bn(sd, f"{p}.bn2", conv(sd, f"{p}.conv2", y, stride)))
        y = bn(sd, f"{p}.bn3", conv(sd, f"{p}.conv3", y))
    else:
        y = F.relu(bn(sd, f"{p}.bn1", conv(sd, f"{p}.conv1", x, stride)))
        y = bn(sd, f"{p}.bn2", conv(sd, f"{p}.conv2", y))
    if f"{p}.downsample.0.weight" in sd:
        x = bn(sd, f"{p}.downsample.1", conv(sd, f"{p}.downsample.0", x, stride))
    return F.relu(x + y)


def stage(sd: Sd, p: str, x: torch.Tensor, stride: int) -> torch.Tensor:
    j = 0
    while f"{p}.{j}.conv1.weight" in sd:
        x = block(sd, f"{p}.{j}", x, stride if j == 0 else 1)
        j += 1
    return x


def backbone(sd: Sd, x: torch.Tensor, d_model: bool) -> list[torch.Tensor]:
    b = "backbone_model"
    if f"{b}.conv2.weight" in sd:  # stem C: 3-stage narrow nets
        x = F.relu(bn(sd, f"{b}.bn0", conv(sd, f"{b}.conv0", x, 2)))
        x = F.relu(bn(sd, f"{b}.bn1", conv(sd, f"{b}.conv1", x, 2)))
        x = F.relu(bn(sd, f"{b}.bn2", conv(sd, f"{b}.conv2", x)))
        feats = [x]
        for i in (1, 2, 3):
            feats.append(stage(sd, f"{b}.layer{i}", feats[-1], 2))
        return feats
    if f"{b}.conv0.weight" in sd:  # stem B
        x = F.relu(bn(sd, f"{b}.bn0", conv(sd, f"{b}.conv0", x, 2)))
        x = F.relu(bn(sd, f"{b}.bn1", conv(sd, f"{b}.conv1", x, 2)))
    else:  # stem A
        x = F.relu(bn(sd, f"{b}.bn1", conv(sd, f"{b}.conv1", x, 2)))
        x = F.max_pool2d(x, 3, 2, 1)
    feats = []
    for i, s in zip((1, 2, 3, 4), (2 if d_model else 1, 2, 2, 2)):
        x = stage(sd, f"{b}.layer{i}", x, s)
        feats.append(x)
    return feats


def up(x: torch.Tensor, ref: torch.Tensor, mobile: bool) -> torch.Tensor:
    if mobile:
        return F.interpolate(x, size=ref.shape[-2:], mode="nearest")
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=True)


def reference_forward(sd: Sd, x: torch.Tensor, *, mobile: bool, d_model: bool) -> torch.Tensor:
    if "smoothing.weight" in sd:
        x = F.conv2d(F.pad(x, (0, 0, 1, 1), mode="reflect"), sd["smoothing.weight"], stride=2,
                     groups=3)  # fmt: skip
    f = [
        cbr(sd, f"head.layers.0.adapter_conv.{i}", t)
        for i, t in enumerate(backbone(sd, x, d_model))
    ]
    h = "head.layers.1"
    s32 = cbr(sd, f"{h}.fam_32_sm", f[3])
    x16 = up(cbr(sd, f"{h}.fam_32_up", f[3]), f[2], mobile) + f[2]
    s16 = cbr(sd, f"{h}.fam_16_sm", x16)
    x8 = up(cbr(sd, f"{h}.fam_16_up", x16), f[1], mobile) + f[1]
    s8 = cbr(sd, f"{h}.fam_8_sm", x8)
    x4 = up(cbr(sd, f"{h}.fam_8_up", x8), f[0], mobile) + f[0]
    s4 = cbr(sd, f"{h}.fam_4", x4)
    if "head.layers.3.last_layer.0.weight" in sd:
        y = torch.cat([s4, up(s8, s4, mobile), up(s16, s4, mobile), up(s32, s4, mobile)], 1)
        p = "head.layers.3.last_layer"
        y = F.relu(bn(sd, f"{p}.1", conv(sd, f"{p}.0", y)))
        return conv(sd, f"{p}.3", y)
    p = "head.layers.2"
    y = block(sd, f"{p}.expansion_layers.0", s4, 1)
    for i, s in enumerate((s8, s16, s32)):
        d = f"{p}.downsampling_layers.{i}"
        y = block(sd, f"{p}.expansion_layers.{i + 1}", s, 1) + F.relu(
            bn(sd, f"{d}.1", F.conv2d(y, sd[f"{d}.0.weight"], sd[f"{d}.0.bias"], 2, 1))
        )
    y = F.relu(bn(sd, f"{p}.final_layer.1", conv(sd, f"{p}.final_layer.0", y)))
    y = y.mean(dim=(2, 3))
    return F.linear(y, sd[f"{p}.classifier.weight"], sd[f"{p}.classifier.bias"])


CASES = [
    "segmentation_ffnet18_dAAA",
    "segmentation_ffnet18_dAAC",
    "segmentation_ffnet50_AAA",
    "segmentation_ffnet34_ABB",
    "segmentation_ffnet40S_BBB_mobile",
    "segmentation_ffnet40S_BCC_mobile_pre_down",
    "segmentation_ffnet40S_dBBB_mobile",
    "segmentation_ffnet86S_dBBB",
    "segmentation_ffnet46NS_CBB_mobile_pre_down",
    "segmentation_ffnet46N_CBB",
    "classification_ffnet18_AAX",
    "classification_ffnet46NS_CBX_mobile",
]


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("size", [(96, 160), (75, 123)])
def test_forward_matches_functional_reference(name: str, size: tuple[int, int]) -> None:
    model = ffseg.create_model(name).eval()
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():  # realistic, non-trivial weights and BN statistics
        for key, t in model.state_dict().items():
            if key.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=generator) + 0.5)
            elif key.endswith(("running_mean", "bias")):
                t.copy_(torch.randn(t.shape, generator=generator) * 0.1)
            elif key.endswith("weight") and "smoothing" not in key and t.dim() > 1:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
    sd = model.state_dict()
    x = torch.randn(2, 3, *size, generator=generator)
    mobile = name.endswith(("_mobile", "_mobile_pre_down"))
    d_model = re.search(r"_d[ABC]{3}", name) is not None
    with torch.no_grad():
        ours = model(x)
        ref = reference_forward(sd, x, mobile=mobile, d_model=d_model)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5 * ref.abs().max().item())


def test_pre_down_kernel_equals_the_official_buffer() -> None:
    printed = """
    9.365314327e-05 1.987745985e-03 5.514657591e-03 1.987745985e-03 9.365314327e-05
    1.987745985e-03 4.218901694e-02 1.170461252e-01 4.218901694e-02 1.987745985e-03
    5.514657125e-03 1.170461252e-01 3.247242272e-01 1.170461252e-01 5.514657125e-03
    1.987745985e-03 4.218901694e-02 1.170461252e-01 4.218901694e-02 1.987745985e-03
    9.365314327e-05 1.987745985e-03 5.514657591e-03 1.987745985e-03 9.365314327e-05
    """
    expected = torch.tensor(
        [[float(v) for v in row.split()] for row in printed.strip().splitlines()]
    )
    assert torch.equal(gaussian_kernel_5x5(), expected)  # bit-exact, incl. the asymmetry
    model = ffseg.create_model("segmentation_ffnet40S_BBB_mobile_pre_down")
    assert torch.equal(model.state_dict()["smoothing.weight"], expected.expand(3, 1, 5, 5))


@pytest.mark.parametrize(("hw", "out"), [((1024, 2048), (511, 1022)), ((300, 500), (149, 248))])
def test_pre_down_output_size(hw: tuple[int, int], out: tuple[int, int]) -> None:
    model = ffseg.create_model("ffnet46ns_ccc_mobile_pre_down")
    with torch.device("meta"):
        y = model.smoothing.to("meta")(torch.empty(1, 3, *hw))
    assert tuple(y.shape[-2:]) == out
