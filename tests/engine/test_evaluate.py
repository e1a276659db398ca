"""The evaluator: whole / slide / multi-scale + flip, batching, AMP, DDP, top-k."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ffseg.data import SyntheticScenes, eval_transforms
from ffseg.data.samplers import DistributedEvalSampler
from ffseg.engine.evaluate import (
    InferenceSpec,
    evaluate,
    evaluate_classification,
    predict_scores,
)
from ffseg.metrics import ConfusionMatrix

NUM_CLASSES = 5


def _pointwise(stride: int = 1) -> nn.Module:
    """A per-pixel linear classifier, optionally followed by average pooling (output stride)."""
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Conv2d(3, NUM_CLASSES, 1)]
    if stride > 1:
        layers.append(nn.AvgPool2d(stride))
    return nn.Sequential(*layers).eval()


def _loader(n: int = 5, batch_size: int = 2, **kw) -> DataLoader:
    ds = SyntheticScenes(n=n, size=(40, 48), num_classes=NUM_CLASSES, transforms=eval_transforms())
    return DataLoader(ds, batch_size=batch_size, **kw)


def _manual(model: nn.Module, loader: DataLoader) -> dict:
    cm = ConfusionMatrix(NUM_CLASSES)
    with torch.no_grad():
        for x, y in loader:
            logits = F.interpolate(
                model(x), size=y.shape[-2:], mode="bilinear", align_corners=False
            )
            cm.update(logits.argmax(1), y)
    return cm.compute()


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], nan_ok=True, abs=1e-12), key


def test_whole_mode_resizes_logits_to_the_mask_and_matches_manual() -> None:
    model = _pointwise(stride=4)
    got = evaluate(model, _loader(), NUM_CLASSES)
    ref = _manual(model, _loader())
    assert got["num_images"] == 5
    assert got["iou"] == pytest.approx(ref["iou"], nan_ok=True) and got["miou"] == ref["miou"]


def test_batch_size_does_not_change_the_result() -> None:
    model = _pointwise(stride=4)
    a = evaluate(model, _loader(batch_size=1), NUM_CLASSES)
    b = evaluate(model, _loader(batch_size=3), NUM_CLASSES)
    _assert_same(a, b)


def test_slide_equals_whole_for_a_pointwise_model_including_padding() -> None:
    model = _pointwise()
    x = torch.randn(2, 3, 40, 48)
    whole = predict_scores(model, x, (40, 48))
    for crop, stride in [((16, 20), (10, 13)), ((40, 48), None), ((64, 64), None)]:
        spec = InferenceSpec("slide", crop_size=crop, stride=stride)
        slide = predict_scores(model, x, (40, 48), spec)
        torch.testing.assert_close(slide, whole, atol=1e-5, rtol=1e-5)


def test_slide_averages_overlaps() -> None:
    calls: list[tuple[int, int]] = []

    class Const(nn.Module):  # logits = number of windows run so far (differs per window)
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(tuple(x.shape[-2:]))
            return torch.full((x.shape[0], 2, *x.shape[-2:]), float(len(calls)))

    spec = InferenceSpec("slide", crop_size=(10, 10), stride=(10, 6))
    out = predict_scores(Const(), torch.zeros(1, 3, 10, 16), (10, 16), spec)
    assert calls == [(10, 10), (10, 10)]  # windows at x=0 and x=6
    assert out[0, 0, 0, 0] == 1 and out[0, 0, 0, 15] == 2 and out[0, 0, 0, 8] == 1.5


def test_inference_spec_windows_and_checks() -> None:
    spec = InferenceSpec("slide", crop_size=[512, 1024])
    assert spec.crop_size == (512, 1024) and spec.window_stride == (341, 682)  # 2/3 of the crop
    assert spec.num_passes == 1 and InferenceSpec(scales=(0.5, 1.0), flip=True).num_passes == 4
    for crop, stride in [(10, 6), (16, 10), (7, 7), (9, 4)]:
        one = InferenceSpec("slide", crop_size=(crop, crop), stride=(stride, stride))
        for size in range(1, 40):
            padded = max(size, crop)
            origins = {y for y, _ in one.window_origins(padded, crop)}
            expected = {min(t, padded - crop) for t in range(0, padded - crop + stride, stride)}
            assert origins == expected, (crop, stride, size)
    with pytest.raises(ValueError, match="crop_size"):
        InferenceSpec("slide")
    with pytest.raises(ValueError, match="mode"):
        InferenceSpec("tiles")
    with pytest.raises(ValueError, match="scales"):
        InferenceSpec(scales=())


def test_evaluate_takes_a_spec_or_its_fields_and_any_callable() -> None:
    model = _pointwise(stride=4)
    by_spec = evaluate(model, _loader(), NUM_CLASSES, spec=InferenceSpec(flip=True))
    _assert_same(by_spec, evaluate(model, _loader(), NUM_CLASSES, flip=True))
    _assert_same(by_spec, evaluate(lambda x: model(x), _loader(), NUM_CLASSES, flip=True))
    with pytest.raises(TypeError, match="not both"):
        evaluate(model, _loader(), NUM_CLASSES, spec=InferenceSpec(), flip=True)


def test_flip_and_scales() -> None:
    model = _pointwise()
    x = torch.randn(1, 3, 24, 32)
    base = predict_scores(model, x, (24, 32))
    flipped = predict_scores(model, x, (24, 32), InferenceSpec(flip=True))
    torch.testing.assert_close(flipped, base.softmax(1), atol=1e-6, rtol=1e-5)  # pointwise: same
    multi = predict_scores(model, x, (24, 32), InferenceSpec(scales=(0.5, 1.0, 1.5), flip=True))
    assert multi.shape == (1, NUM_CLASSES, 24, 32)
    torch.testing.assert_close(multi.sum(1), torch.ones(1, 24, 32))
    res = evaluate(model, _loader(n=2), NUM_CLASSES, scales=(0.75, 1.25), flip=True)
    assert res["num_images"] == 2 and 0 <= res["aacc"] <= 1


def test_bf16_autocast_runs_and_agrees_closely() -> None:
    model = _pointwise(stride=2)
    fp32 = evaluate(model, _loader(), NUM_CLASSES)
    bf16 = evaluate(model, _loader(), NUM_CLASSES, amp_dtype=torch.bfloat16)
    assert abs(fp32["aacc"] - bf16["aacc"]) < 0.02


def test_model_and_dataset_class_counts_must_agree() -> None:
    with pytest.raises(ValueError, match=r"outputs 5 classes but the dataset has 7.*num_classes=7"):
        evaluate(_pointwise(), _loader(n=1), 7)


def test_training_mode_is_restored() -> None:
    model = _pointwise().train()
    evaluate(model, _loader(n=1), NUM_CLASSES)
    assert model.training


def test_distributed_eval_sampler_splits_without_padding() -> None:
    ds = list(range(7))
    shards = [list(DistributedEvalSampler(ds, num_replicas=3, rank=r)) for r in range(3)]
    assert sorted(i for s in shards for i in s) == ds and [len(s) for s in shards] == [3, 2, 2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, queue) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        ds = _loader(n=5).dataset
        loader = DataLoader(ds, batch_size=2, sampler=DistributedEvalSampler(ds))
        result = evaluate(_pointwise(stride=4), loader, NUM_CLASSES)
        padded = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, shuffle=False))
        try:
            evaluate(_pointwise(stride=4), padded, NUM_CLASSES)
            error = ""
        except ValueError as exc:
            error = str(exc)
        queue.put((rank, result, error))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo_matches_single_process() -> None:
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_ddp_worker, args=(2, _free_port(), queue), nprocs=2, start_method="spawn")
    results = [queue.get() for _ in range(2)]
    single = evaluate(_pointwise(stride=4), _loader(n=5), NUM_CLASSES)
    for _, result, error in results:
        assert result["num_images"] == 5  # 3 + 2 images, none duplicated
        _assert_same(result, single)
        assert "DistributedEvalSampler" in error


class _Logits(Dataset):
    def __init__(self, n: int = 7) -> None:
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 10, generator=g)
        self.y = torch.randint(0, 10, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], int(self.y[i])


def test_topk_is_counted_per_sample() -> None:
    ds = _Logits()
    res = evaluate_classification(nn.Identity(), DataLoader(ds, batch_size=3))  # 3 + 3 + 1
    top5 = ds.x.topk(5, 1).indices
    assert res["num_images"] == 7
    assert res["top1"] == pytest.approx(float((ds.x.argmax(1) == ds.y).float().mean()))
    assert res["top5"] == pytest.approx(float((top5 == ds.y[:, None]).any(1).float().mean()))


def _zoo_segmentation_models() -> list[str]:
    from ffseg.models import get_pretrained_cfg, list_models

    return [
        n
        for n in list_models()
        if not n.startswith("ffnet") and get_pretrained_cfg(n).task == "segmentation"
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", _zoo_segmentation_models())
def test_every_zoo_model_predicts_any_image_size(name: str) -> None:
    """Inputs are padded to the model's size_divisor and the output cropped back."""
    import ffseg

    model = ffseg.create_model(name, num_classes=3).eval()
    min_h, min_w = model.pretrained_cfg.min_input_size
    size = (max(37, min_h) + 5, max(53, min_w) + 13)  # divisible by no stride above 1
    spec = InferenceSpec.for_model(model, size)
    assert spec.size_divisor == getattr(model, "size_divisor", 1)
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        scores = predict_scores(model, x, size, spec)
        window = predict_scores(model, x, size, InferenceSpec.for_model(model, size, "slide"))
    assert scores.shape == (1, 3, *size) and torch.isfinite(scores).all()
    assert window.shape == (1, 3, *size)


def test_padding_to_the_divisor_crops_the_output_back() -> None:
    """A model that needs multiples of 8 gets padded inputs and cropped, aligned logits."""

    class NeedsEight(nn.Module):
        size_divisor = 8

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            assert x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0
            return x[:, :2]  # logits = the first two input channels, full resolution

    x = torch.randn(1, 3, 13, 21)
    scores = predict_scores(NeedsEight(), x, (13, 21))
    torch.testing.assert_close(scores, x[:, :2])  # cropped back exactly, no shift
