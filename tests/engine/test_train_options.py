"""fit with class-uniform sampling and feature distillation (the adapter trains, is
checkpointed for resuming, and stays out of the exported weights)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from torchvision import tv_tensors

from ffseg.config import load_config
from ffseg.data.class_uniform import CentredCropPreset, class_centroids
from ffseg.engine.checkpoint import load_checkpoint
from ffseg.engine.data import TrainData, train_loader
from ffseg.engine.distributed import DistInfo
from ffseg.engine.train import TrainState, fit


class _Stop(Exception):
    pass


def test_class_uniform_and_feature_distillation_train_and_resume_exactly(
    tiny_cfg, tmp_path
) -> None:
    """4 iterations (2 per epoch, class-uniform crops off from the second epoch) straight ==
    3 iterations, killed, resumed; the adapter is in last.pt, not in best.safetensors."""
    kwargs = "{backbone: resnet22s, up_head: B, seg_head: B, mobile: true, first_stage_stride: 2}"
    common = [
        "data.train_kwargs.n=8",
        "data.class_uniform=0.5",
        "data.class_uniform_off_at=0.5",
        "kd.teacher=ffseg.models.ffnet:FFNet",
        f"kd.teacher_kwargs={kwargs}",
        "kd.feature_weight=1.0",
        "kd.feature_loss=cosine",
    ]
    seen: list[dict[str, float]] = []

    def on_step(state: TrainState) -> None:
        seen.append(dict(state.last))

    straight = fit(tiny_cfg(*common, "train.name=straight"), on_step=on_step)
    assert straight.iterations == 4 and all("kd_feat" in s and "kd" not in s for s in seen)
    cfg = tiny_cfg(*common, "train.name=killed", "train.ckpt_every=1")

    def kill(state: TrainState) -> None:
        if state.iteration == 3:
            raise _Stop

    with pytest.raises(_Stop):
        fit(cfg, on_step=kill)
    resumed = fit(cfg, resume=tmp_path / "killed")
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    ckpt = load_checkpoint(tmp_path / "killed" / "last.pt")
    first = load_checkpoint(tmp_path / "straight" / "last.pt")
    assert ckpt["extra"] is not None and all(k.startswith("adapter.") for k in ckpt["extra"])
    assert all(torch.equal(first["extra"][k], ckpt["extra"][k]) for k in first["extra"])
    assert len(ckpt["optimizer"]["param_groups"]) >= 3  # the model's + the adapter's two
    best = load_file(tmp_path / "killed" / "best.safetensors")
    assert set(best) == set(resumed.model.state_dict())


def test_class_uniform_loader_is_sharded_per_rank_and_seeded() -> None:
    class Indexed:  # sample i's image holds i, its mask two classes
        def __len__(self) -> int:
            return 8

        def __getitem__(self, i: int):
            mask = torch.zeros(16, 16, dtype=torch.int64)
            mask[:4, :4] = 1
            return tv_tensors.Image(torch.full((3, 16, 16), i, dtype=torch.uint8)), tv_tensors.Mask(
                mask
            )

    train = Indexed()
    data = TrainData(train, None, 2, ("a", "b"), (), 255, class_centroids(train, 2))
    cfg = load_config("demo", ["data.batch_size=2", "train.seed=3"])
    preset = CentredCropPreset((8, 8), (0.0,) * 3, (1 / 255,) * 3, (1.0, 1.0))

    def seen(rank: int) -> tuple[list[int], list[torch.Tensor]]:
        loader = train_loader(data, preset, cfg, DistInfo(rank, 2), 0, 0, class_uniform=1.0)
        batches = list(loader)
        ids = [int(x[0, 0, 0]) for images, _ in batches for x in images]
        return ids, [masks for _, masks in batches]

    ids0, masks0 = seen(0)
    ids1, _ = seen(1)
    assert len(ids0) == len(ids1) == 4 and not set(ids0) & set(ids1)  # disjoint shards
    again_ids, again_masks = seen(0)
    assert again_ids == ids0 and all(torch.equal(a, b) for a, b in zip(again_masks, masks0))
