"""Feature distillation: a teacher's intermediate feature matched by a 1x1 adapter."""

from __future__ import annotations

import pytest
import torch

from ffseg.losses import (
    DistillCriterion,
    FeatureDistillLoss,
    KDLoss,
    SegCriterion,
    feature_distillation,
)
from ffseg.losses.ce import CrossEntropyLoss
from ffseg.models.ffnet import FFNet


def _ffnet(backbone: str) -> FFNet:
    torch.manual_seed(0)
    return FFNet(backbone, "B", "B", mobile=True, first_stage_stride=2, num_classes=3)


@pytest.mark.parametrize("kind", ["mse", "cosine"])
def test_feature_loss_resizes_and_adapts(kind: str) -> None:
    loss = FeatureDistillLoss(8, 16, kind)
    student = torch.randn(2, 8, 6, 6, requires_grad=True)
    value = loss(student, torch.randn(2, 16, 12, 12))
    value.backward()
    assert value.ndim == 0 and student.grad is not None
    assert loss.adapter[0].weight.grad is not None


def test_gradients_reach_adapter_and_student_teacher_frozen() -> None:
    student, teacher = _ffnet("resnet22s"), _ffnet("resnet22s")
    feature, taps = feature_distillation(student, teacher, -1, "mse", (64, 64))
    base = SegCriterion(CrossEntropyLoss(255), "ce")
    criterion = DistillCriterion(
        base, teacher, KDLoss(2.0), 0.5, feature=feature, feature_weight=1.0, taps=taps
    ).train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    x = torch.randn(2, 3, 64, 64)
    y = torch.randint(0, 3, (2, 64, 64))
    loss, terms = criterion(student.forward_train(x), y, x)
    loss.backward()
    assert {"ce", "kd", "kd_feat"} <= set(terms)
    assert all(p.grad is not None for p in feature.parameters())
    assert student.get_classifier().weight.grad is not None
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    assert not teacher.training
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics unchanged
    assert not any(k.startswith("feature") for k in student.state_dict())  # not exported


def test_feature_level_out_of_range_names_the_key() -> None:
    student = _ffnet("resnet22s")
    with pytest.raises(ValueError, match=r"kd\.feature_level=9"):
        feature_distillation(student, _ffnet("resnet22s"), 9, "mse", (64, 64))
