"""Training engine: a run learns, writes its folder, resumes exactly, stops on NaN."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from ffseg.engine import build as build_mod
from ffseg.engine import train as train_mod
from ffseg.engine.checkpoint import load_checkpoint
from ffseg.engine.train import FitResult, NonFiniteLossError, TrainState, fit


class _Stop(Exception):
    """Simulates the process being killed after a given iteration."""


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_run_folder_contents(tiny_cfg, tmp_path: Path) -> None:
    cfg = tiny_cfg(
        "train.iters=6",
        "train.eval_every=1",
        "train.ema=true",
        "log.tensorboard=true",
        "log.overlays=2",
        "train.name=run",
    )
    result = fit(cfg)
    run = tmp_path / "run"
    assert isinstance(result, FitResult) and result.run_dir == run
    assert result.score_name == "miou" and result.score == result.metrics["miou"]
    for name in ("config.yaml", "last.pt", "best.safetensors", "summary.csv"):
        assert (run / name).is_file(), name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert len(list((run / "overlays").glob("*.png"))) == 2
    rows = list(csv.DictReader((run / "summary.csv").open()))
    assert len(rows) == 2 and {"miou", "miou_ema", "train_loss", "lr"} <= set(rows[0])
    ckpt = load_checkpoint(run / "last.pt")  # weights_only=True
    assert ckpt["state"]["iteration"] == 6
    assert set(ckpt["ema"]) == set(ckpt["model"])
    # best.safetensors holds plain weights that load into the same architecture
    from safetensors.torch import load_file

    best = load_file(str(run / "best.safetensors"))
    assert set(best) == set(result.model.state_dict())
    # a second run with the same name goes to a new folder instead of overwriting
    assert fit(tiny_cfg("train.iters=1", "train.name=run")).run_dir == tmp_path / "run-2"


def test_resume_is_bit_exact(tiny_cfg, tmp_path: Path) -> None:
    """N iterations straight == k iterations, killed, resumed, N - k more (CPU)."""
    common = [
        "train.iters=6",
        "data.train_kwargs.n=12",
        "data.scale_range=[0.6, 1.4]",
        "train.ema=true",
    ]
    straight = fit(tiny_cfg(*common, "train.name=straight"))
    cfg = tiny_cfg(*common, "train.name=killed", "train.ckpt_every=1")

    def kill(state: TrainState) -> None:
        if state.iteration == 4:  # mid-epoch (3 iterations per epoch)
            raise _Stop

    with pytest.raises(_Stop):
        fit(cfg, on_step=kill)
    assert load_checkpoint(tmp_path / "killed" / "last.pt")["state"]["iteration"] == 4
    resumed = fit(cfg, resume=tmp_path / "killed")
    assert resumed.iterations == 6
    a, b = _weights(straight.model), _weights(resumed.model)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ea = load_checkpoint(tmp_path / "straight" / "last.pt")["ema"]
    eb = load_checkpoint(tmp_path / "killed" / "last.pt")["ema"]
    assert all(torch.equal(ea[k], eb[k]) for k in ea)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_cfg, tmp_path, monkeypatch) -> None:
    real_build = build_mod.build_loss
    calls = {"n": 0}

    def poisoned(cfg, ignore_index=255):
        criterion = real_build(cfg, ignore_index)
        forward = criterion.forward

        def nan_after_three(output, target, inputs=None):
            total, terms = forward(output, target, inputs)
            calls["n"] += 1
            return (total * float("nan") if calls["n"] > 3 else total), terms

        criterion.forward = nan_after_three
        return criterion

    monkeypatch.setattr(build_mod, "build_loss", poisoned)
    cfg = tiny_cfg("train.iters=8", "train.ckpt_every=1", "train.name=nan")
    with pytest.raises(NonFiniteLossError, match=r"loss is nan.*last good checkpoint"):
        fit(cfg)
    ckpt = load_checkpoint(tmp_path / "nan" / "last.pt")
    assert ckpt["state"]["iteration"] == 3
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_bf16_autocast_and_channels_last_train(tiny_cfg) -> None:
    result = fit(
        tiny_cfg(
            "train.amp=bf16", "model.channels_last=true", "train.iters=2", "loss.rmi_weight=0.5"
        )
    )
    assert all(torch.isfinite(p).all() for p in result.model.parameters())
    assert next(result.model.parameters()).dtype == torch.float32


def test_bad_recipe_fails_before_writing_anything(tiny_cfg, tmp_path) -> None:
    """A recipe that cannot train leaves no run folder behind."""
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        fit(tiny_cfg("train.amp=fp16", "train.device=cpu", "train.name=bad"))
    cfg = tiny_cfg("train.name=bad")
    cfg.loss.name = "cee"  # a programmatic edit is checked too
    with pytest.raises(ValueError, match="Did you mean 'ce'"):
        fit(cfg)
    with pytest.raises(KeyError, match="no_such_model"):
        fit(tiny_cfg("model.name=no_such_model", "model.kwargs={}", "train.name=bad"))
    assert not (tmp_path / "bad").exists()


def test_knowledge_distillation_from_checkpoint(tiny_cfg, tmp_path) -> None:
    teacher = fit(tiny_cfg("train.iters=1", "train.name=teacher", "train.eval_every=1"))
    kwargs = "{backbone: resnet22s, mobile: true, first_stage_stride: 2}"
    cfg = tiny_cfg(
        "train.name=student",
        "kd.teacher=ffseg.models.ffnet:FFNet",
        f"kd.teacher_kwargs={kwargs}",
        f"kd.teacher_checkpoint={teacher.run_dir / 'best.safetensors'}",
        "kd.weight=1.0",
        "train.iters=2",
        "data.train_kwargs.n=8",
    )
    seen: list[float] = []
    real = train_mod.train_one_epoch

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(out["kd"])
        return out

    train_mod.train_one_epoch, old = spy, real
    try:
        result = fit(cfg)
    finally:
        train_mod.train_one_epoch = old
    assert result.iterations == 2
    assert seen and all(v > 0 for v in seen)


def test_classification_pretraining_then_segmentation_init(tmp_path, tiny_cfg) -> None:
    """Pre-train an FFNet X classifier, then initialise a segmentation FFNet's encoder from it."""
    from PIL import Image

    root = tmp_path / "imagenet"
    g = torch.Generator().manual_seed(0)
    for split in ("train", "val"):
        for c, colour in enumerate(((200, 30, 30), (30, 200, 30))):
            d = root / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(4):
                noise = torch.randint(0, 40, (40, 40, 3), generator=g)
                pixels = (noise + torch.tensor(colour) // 2).to(torch.uint8).numpy()
                Image.fromarray(pixels).save(d / f"{i}.png")
    cls = fit(
        tiny_cfg(
            "data.name=imagenet",
            f"data.root={root}",
            "data.task=classification",
            "data.train_kwargs={}",
            "data.val_kwargs={}",
            "data.crop_size=[32, 32]",
            "model.kwargs.seg_head=X",
            "train.iters=2",
            "train.eval_every=1",
            "train.name=cls",
        )
    )
    assert cls.score_name == "top1" and 0.0 <= cls.score <= 1.0
    assert "miou" not in cls.metrics
    from ffseg.models.ffnet import FFNet

    seg = FFNet("resnet22s", "B", "B", mobile=True, first_stage_stride=2, num_classes=5)
    from ffseg.models import load_backbone_weights

    load_backbone_weights(seg, cls.run_dir / "best.safetensors")
    src = cls.model.state_dict()
    for k, v in seg.state_dict().items():
        if k.startswith("backbone_model."):
            assert torch.equal(v, src[k].to(v.dtype)), k


def test_max_minutes_stops_cleanly_and_evaluates(tiny_cfg, tmp_path) -> None:
    result = fit(tiny_cfg("train.iters=50", "train.max_minutes=1e-9", "train.name=timed"))
    assert result.iterations == 1  # stops after the first iteration
    assert "miou" in result.metrics
    ckpt = load_checkpoint(tmp_path / "timed" / "last.pt")
    assert ckpt["state"]["iteration"] == 1
