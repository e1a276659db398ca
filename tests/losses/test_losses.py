"""Losses: values against torch references, ignore handling, fp32 RMI, KD, detail, aux."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from ffseg.losses import (
    CrossEntropyLoss,
    DetailLoss,
    DiceLoss,
    DistillCriterion,
    KDLoss,
    OhemCrossEntropyLoss,
    RMILoss,
    build_loss,
    mask_edges,
)
from ffseg.models import AuxOutput, SegOutput


def _loss_cfg(**kw):
    base = dict(name="ce", class_weights=None, label_smoothing=0.0, ohem_thresh=0.7,
                ohem_min_kept=100, rmi_weight=0.0, rmi_radius=3, rmi_pool=2, dice_weight=0.0,
                aux_weight_scale=1.0)  # fmt: skip
    return SimpleNamespace(**{**base, **kw})


def _data(classes: int = 4):
    logits = torch.randn(2, classes, 8, 8)
    target = torch.randint(0, classes, (2, 32, 32))
    target[:, :4] = 255
    return logits, target


def test_ce_resizes_logits_and_ignores_void() -> None:
    logits, target = _data()
    up = F.interpolate(logits, size=(32, 32), mode="bilinear", align_corners=False)
    w = [1.0, 2.0, 0.5, 1.0]
    expected = F.cross_entropy(up, target, weight=torch.tensor(w), ignore_index=255)
    assert torch.allclose(CrossEntropyLoss(255, w)(logits, target), expected)
    all_void = torch.full_like(target, 255)
    assert CrossEntropyLoss()(logits, all_void).item() == 0.0


def test_ohem_keeps_hard_pixels() -> None:
    logits, target = _data()
    ce = CrossEntropyLoss()(logits, target)
    every = OhemCrossEntropyLoss(thresh=1.0, min_kept=1)(logits, target)
    assert torch.allclose(every, ce, atol=1e-6)  # threshold 1: every pixel is hard
    hard = OhemCrossEntropyLoss(thresh=0.05, min_kept=50)(logits, target)
    assert hard > ce  # only the hardest pixels remain, so the mean loss is higher


def test_rmi_is_fp32_under_autocast_and_rewards_correct_predictions() -> None:
    target = torch.randint(0, 3, (2, 4, 4)).repeat_interleave(8, 1).repeat_interleave(8, 2)
    good = F.one_hot(target, 3).permute(0, 3, 1, 2).float() * 8
    bad = torch.randn(2, 3, 32, 32)
    rmi = RMILoss(radius=3, pool=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = rmi(good.bfloat16(), target)
    assert value.dtype == torch.float32
    assert rmi(good, target) < rmi(bad, target)
    x = bad.clone().requires_grad_()
    rmi(x, target).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_dice_perfect_prediction_is_near_zero() -> None:
    target = torch.randint(0, 3, (2, 16, 16))
    perfect = F.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    assert DiceLoss()(perfect, target) < 1e-3
    assert DiceLoss()(torch.zeros(2, 3, 16, 16), target) > 0.5


def test_kd_zero_for_identical_logits_and_positive_otherwise() -> None:
    s = torch.randn(2, 4, 8, 8)
    kd = KDLoss(temperature=2.0)
    assert kd(s, s).abs() < 1e-6
    teacher_hi_res = torch.randn(2, 4, 16, 16)  # teacher at another output stride
    assert kd(s, teacher_hi_res, torch.zeros(2, 32, 32, dtype=torch.long)) > 0


def test_mask_edges_and_detail_loss() -> None:
    mask = torch.zeros(1, 16, 16, dtype=torch.long)
    mask[:, :, 8:] = 1
    edges = mask_edges(mask, strides=(1,))
    assert edges[0, 0, :, 7:9].all() and edges[0, 0, :, :6].sum() == 0
    good = edges * 20 - 10
    assert DetailLoss()(good, mask) < DetailLoss()(-good, mask)


def test_build_loss_weights_aux_heads_and_extra_terms() -> None:
    logits, target = _data()
    aux = torch.randn(2, 4, 4, 4)
    detail = torch.randn(2, 1, 16, 16)
    crit = build_loss(_loss_cfg(rmi_weight=0.5, dice_weight=0.25, aux_weight_scale=2.0))
    out = SegOutput(logits, [AuxOutput("aux1", aux, 0.4), AuxOutput("det", detail, 1.0, "detail")])
    total, terms = crit(out, target)
    assert set(terms) == {"ce", "rmi", "dice", "aux/aux1", "aux/det"}
    expected = (terms["ce"] + 0.5 * terms["rmi"] + 0.25 * terms["dice"]
                + 2.0 * 0.4 * terms["aux/aux1"] + 2.0 * terms["aux/det"])  # fmt: skip
    assert torch.allclose(total, expected)
    assert torch.allclose(terms["aux/aux1"], CrossEntropyLoss()(aux, target))
    with pytest.raises(ValueError, match=r"loss\.name"):
        build_loss(_loss_cfg(name="focal"))
    with pytest.raises(ValueError, match="unknown kind"):
        crit(SegOutput(logits, [AuxOutput("x", aux, 1.0, "weird")]), target)


def test_distill_criterion_adds_kd_from_a_frozen_teacher() -> None:
    logits, target = _data()
    images = torch.randn(2, 3, 32, 32)
    teacher = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    base = build_loss(_loss_cfg())
    crit = DistillCriterion(base, teacher, KDLoss(2.0), weight=0.5).train()
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    before = teacher[1].running_mean.clone()
    total, terms = crit(SegOutput(logits), target, images)
    assert set(terms) == {"ce", "kd"} and terms["kd"] > 0
    assert torch.allclose(total, terms["ce"] + 0.5 * terms["kd"])
    assert torch.equal(teacher[1].running_mean, before)  # BN statistics untouched
