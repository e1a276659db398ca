"""STDC1/STDC2-Seg: the released model's heads, the avd layers, the encoder on its own."""

from __future__ import annotations

import torch

import ffseg


def test_stride_2_modules_have_the_depthwise_avd_conv() -> None:
    with torch.device("meta"):
        model = ffseg.create_model("stdc1")
    first, second = model.backbone.stage3
    assert first.avd[0].groups == first.avd[0].in_channels == 128
    assert first.avd[0].stride == (2, 2) and isinstance(second.avd, torch.nn.Identity)


def test_aux_and_detail_heads_only_in_forward_train() -> None:
    model = ffseg.create_model("stdc1").eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        out = model.forward_train(x)
        logits = model(x)
    assert torch.equal(out.logits, logits)
    aux16, aux32, detail = out.aux
    assert (detail.name, detail.kind, detail.weight) == ("detail", "detail", 1.0)
    assert detail.logits.shape == (1, 1, 8, 12)
    assert aux16.logits.shape == (1, 19, 8, 12) and aux32.logits.shape == (1, 19, 4, 6)
    assert (aux16.kind, aux32.kind) == ("seg", "seg")


def test_features_only_matches_feature_info() -> None:
    encoder = ffseg.create_model("stdc2", features_only=True).eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [i.num_chs for i in encoder.feature_info]
    assert [64 // f.shape[-1] for f in feats] == [i.reduction for i in encoder.feature_info]


def test_encoder_checkpoint_initialises_backbone(tmp_path) -> None:
    source = ffseg.create_model("stdc1", features_only=True)
    path = tmp_path / "stdc1_encoder.pt"
    torch.save(source.state_dict(), path)
    model = ffseg.create_model("stdc1", pretrained_backbone=path)
    for key, value in source.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
