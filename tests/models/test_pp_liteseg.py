"""PP-LiteSeg: three UAFMs, the channel-attention variant, aux heads, shared STDC encoder."""

from __future__ import annotations

import torch

import ffseg


def test_three_uafms_and_channel_attention_variant() -> None:
    with torch.device("meta"):
        t = ffseg.create_model("pp_liteseg_t")
        ca = ffseg.create_model("pp_liteseg_t_ca")
    assert [arm.conv_out[0].out_channels for arm in t.arm_list] == [32, 64, 128]
    assert t.head.conv[0].out_channels == 32
    assert {arm.attention for arm in ca.arm_list} == {"channel"}
    model = ffseg.create_model("pp_liteseg_t_ca", num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 128, 128)).shape == (1, 3, 16, 16)


def test_aux_heads_at_stride_16_and_32() -> None:
    model = ffseg.create_model("pp_liteseg_t", num_classes=5).eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, 128, 128))
    assert out.logits.shape == (1, 5, 16, 16)
    shapes = {a.name: tuple(a.logits.shape) for a in out.aux}
    assert shapes == {"aux16": (1, 5, 8, 8), "aux32": (1, 5, 4, 4)}
    assert all(a.weight == 1.0 and a.kind == "seg" for a in out.aux)
    assert not model.supports_dynamic_shapes  # SPPM pools to fixed bins


def test_stdc_encoder_weights_transfer_from_stdc_seg(tmp_path) -> None:
    stdc = ffseg.create_model("stdc2")
    path = tmp_path / "stdc2.pt"
    torch.save(stdc.state_dict(), path)
    model = ffseg.create_model("pp_liteseg_b", pretrained_backbone=path)
    for key, value in stdc.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
