"""ConfusionMatrix: definitions, ignore handling, errors, torchmetrics parity, table."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ffseg.metrics import ConfusionMatrix, format_table


def _reference(pred: np.ndarray, target: np.ndarray, n: int, ignore: int = 255) -> dict:
    """Per-pixel loop over the metric definitions (independent of the bincount code)."""
    tp, fp, fn, gt = [0] * n, [0] * n, [0] * n, [0] * n
    for p, t in zip(pred.ravel().tolist(), target.ravel().tolist()):
        if t == ignore:
            continue
        gt[t] += 1
        if p == t:
            tp[t] += 1
        else:
            fp[p] += 1
            fn[t] += 1
    iou = [tp[c] / (tp[c] + fp[c] + fn[c]) if tp[c] + fp[c] + fn[c] else math.nan for c in range(n)]
    acc = [tp[c] / gt[c] if gt[c] else math.nan for c in range(n)]
    total = sum(gt)
    valid = [v for v in iou if not math.isnan(v)]
    return {
        "iou": iou,
        "acc": acc,
        "miou": sum(valid) / len(valid),
        "aacc": sum(tp) / total,
        "fwiou": sum(gt[c] / total * iou[c] for c in range(n) if gt[c]),
    }


def test_matches_definitions_with_ignore_and_absent_class() -> None:
    g = torch.Generator().manual_seed(0)
    n = 5
    target = torch.randint(0, 4, (3, 17, 23), generator=g)  # class 4 never in target...
    target[:, :2] = 255
    pred = torch.randint(0, 3, (3, 17, 23), generator=g)  # ...nor in pred -> NaN, not counted
    cm = ConfusionMatrix(n)
    cm.update(pred[:2], target[:2])
    cm.update(pred[2], target[2])  # [H, W] works too
    got, ref = cm.compute(), _reference(pred.numpy(), target.numpy(), n)
    assert math.isnan(got["iou"][4]) and math.isnan(got["acc"][4])
    assert got["iou"][3] == 0.0  # class 3 in target only: IoU 0, counted in the mean
    np.testing.assert_allclose(got["iou"], ref["iou"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["acc"], ref["acc"], rtol=0, atol=1e-12)
    for key in ("miou", "aacc", "fwiou"):
        assert got[key] == pytest.approx(ref[key], abs=1e-12)
    assert got["macc"] == pytest.approx(np.nanmean(ref["acc"]), abs=1e-12)


def test_reset_and_all_reduce_noop() -> None:
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]))
    cm.all_reduce()  # not distributed: unchanged
    assert int(cm.mat.sum()) == 3
    cm.reset()
    assert int(cm.mat.sum()) == 0 and math.isnan(cm.compute()["miou"])


def test_values_outside_classes_raise_with_values_named() -> None:
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match=r"target values \[7\].*num_classes disagrees"):
        cm.update(torch.tensor([0, 1]), torch.tensor([7, 1]))
    with pytest.raises(ValueError, match=r"prediction values \[5\]"):
        cm.update(torch.tensor([5, 1]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="resize logits to the mask size"):
        cm.update(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parity_with_torchmetrics_jaccard(seed: int) -> None:
    from torchmetrics.classification import MulticlassJaccardIndex

    g = torch.Generator().manual_seed(seed)
    n = 7
    target = torch.randint(0, n, (4, 31, 29), generator=g)
    target[torch.rand(target.shape, generator=g) < 0.1] = 255
    pred = torch.where(torch.rand(target.shape, generator=g) < 0.6, target.clamp(max=n - 1),
                       torch.randint(0, n, target.shape, generator=g))  # fmt: skip
    cm = ConfusionMatrix(n)
    cm.update(pred, target)
    got = cm.compute()
    per_class = MulticlassJaccardIndex(n, average=None, ignore_index=255)(pred, target)
    mean = MulticlassJaccardIndex(n, average="macro", ignore_index=255)(pred, target)
    np.testing.assert_allclose(got["iou"], per_class.double().numpy(), rtol=0, atol=1e-6)
    assert got["miou"] == pytest.approx(float(mean), abs=1e-6)


def test_format_table_lists_classes_and_summary() -> None:
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]))
    metrics = {**cm.compute(), "num_images": 1}
    text = format_table(metrics, ["road", "car", "sky"])
    lines = text.splitlines()
    assert lines[2].split() == ["road", f"{100 * metrics['iou'][0]:.2f}", "50.00"]
    assert lines[4].split()[0] == "sky" and "-" in lines[4]  # absent class shown as '-'
    assert f"mIoU {100 * metrics['miou']:.2f}" in text and "(1 images)" in text
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        format_table(metrics, ["a", "b"])
