"""``bench --onnx-dir``: cached ONNX files are keyed by the weights' content, not the name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ffseg.deploy.bench import content_key


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_same_weights_same_key_other_weights_other_key() -> None:
    a, b = _net(0), _net(0)
    assert content_key(a, (32, 48), 1, 18) == content_key(b, (32, 48), 1, 18)
    with torch.no_grad():
        b[0].weight[0, 0, 0, 0] += 1e-6  # one weight, one rounding step away
    assert content_key(a, (32, 48), 1, 18) != content_key(b, (32, 48), 1, 18)


@pytest.mark.parametrize("extra", [((64, 48), 1, 18), ((32, 48), 2, 18), ((32, 48), 1, 17)])
def test_size_batch_and_opset_are_part_of_the_key(extra) -> None:
    net = _net(0)
    assert content_key(net, (32, 48), 1, 18) != content_key(net, *extra)


def test_buffers_and_dtypes_count() -> None:
    a, b = _net(0), _net(0)
    b[1].running_mean += 1
    assert content_key(a) != content_key(b)
    assert content_key(_net(0).double()) != content_key(_net(0))
    assert content_key(_net(0).bfloat16())  # any dtype hashes


@pytest.mark.slow
def test_onnx_dir_never_reuses_another_models_export(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import ffseg
    from ffseg.deploy.bench import benchmark_model

    rows = []
    for seed in (0, 1):  # same name, other weights
        torch.manual_seed(seed)
        model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=3).eval()
        rows += benchmark_model(
            model, (64, 64), backends=["onnxruntime"], precisions=["fp32"], runs=1, warmup=0,
            workdir=tmp_path,
        )  # fmt: skip
    assert [r.error for r in rows] == ["", ""]
    assert all(r.argmax_agreement > 0.99 for r in rows)
    assert len(list(tmp_path.glob("*.onnx"))) == 2
