"""segmentation-models-pytorch networks as ffseg models (``"smp:<Arch>:<encoder>"``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("segmentation_models_pytorch")

import ffseg
from ffseg.config import Config, KDConfig
from ffseg.engine.build import build_model, build_teacher, check_names_from_disk
from ffseg.models import SegModel, load_model
from ffseg.models._smp import SmpNotInstalledError, is_smp_name

#: The nine decoders smp has had since 0.3, plus those 0.5/0.6 added for CNN encoders.
ARCHS = ["Unet", "UnetPlusPlus", "MAnet", "Linknet", "FPN", "PSPNet", "PAN", "DeepLabV3"]
ARCHS += ["DeepLabV3Plus", "Segformer", "UPerNet"]
#: A Unet with a narrow decoder (smp keeps unused encoder stages, so the depth stays 5).
SMALL = {"decoder_channels": [16, 8, 8, 4, 4]}
NAME = "smp:Unet:resnet18"


def small(num_classes: int = 3, **kw: object) -> SegModel:
    torch.manual_seed(0)
    return ffseg.create_model(NAME, num_classes=num_classes, **SMALL, **kw).eval()


@pytest.mark.parametrize("arch", ARCHS)
def test_every_decoder_builds_as_segmodel(arch: str) -> None:
    with torch.device("meta"):  # structure only: fast
        model = ffseg.create_model(f"smp:{arch.lower()}:resnet18", num_classes=7)
    assert isinstance(model, SegModel)
    cfg = model.pretrained_cfg
    assert cfg.architecture == f"smp:{arch}:resnet18"
    assert (cfg.family, cfg.output_stride, cfg.num_classes) == ("smp", 1, 7)
    assert cfg.model_args == {"num_classes": 7}
    assert model.get_classifier().out_channels == 7
    assert [f.reduction for f in model.feature_encoder().feature_info][:3] == [2, 4, 8]


def test_logits_at_input_size_for_any_size_and_training_gradients() -> None:
    model = small()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 40, 56)).shape == (1, 3, 40, 56)  # not a multiple of 32
    model.train()
    out = model.forward_train(torch.randn(2, 3, 32, 32))
    out.logits.sum().backward()
    assert out.aux == [] and out.logits.shape == (2, 3, 32, 32)
    assert all(p.grad is not None for p in model.parameters())


def test_features_only_shares_the_encoder() -> None:
    model = small()
    features = ffseg.create_model(NAME, features_only=True, **SMALL)
    assert [f.num_chs for f in features.feature_info] == [64, 64, 128, 256, 512]
    assert [f.reduction for f in features.feature_info] == [2, 4, 8, 16, 32]
    outs = model.feature_encoder()(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs][::2] == [(64, 32, 32), (128, 8, 8), (512, 2, 2)]


def test_names_are_checked_part_by_part() -> None:
    with pytest.raises(ValueError, match=r"architecture 'Unett'.*did you mean Unet.*choices"):
        ffseg.create_model("smp:Unett:resnet18")
    with pytest.raises(ValueError, match=r"encoder 'resnet19'.*did you mean resnet18.*choices"):
        ffseg.create_model("smp:Unet:resnet19")
    with pytest.raises(ValueError, match=r"'smp:<Arch>:<encoder>'"):
        ffseg.create_model("smp:Unet")
    with pytest.raises(ValueError, match="nothing is downloaded"):
        ffseg.create_model(NAME, encoder_weights="imagenet")
    with pytest.raises(ValueError, match="DPT with encoder 'resnet18'"):
        ffseg.create_model("smp:DPT:resnet18")
    assert is_smp_name("SMP:unet:resnet18") and not is_smp_name("ffseg.models.ffnet:FFNet")


def test_missing_extra_names_the_pip_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "segmentation_models_pytorch", None)
    with pytest.raises(SmpNotInstalledError, match=r"pip install 'ffseg\[smp\]'"):
        ffseg.create_model(NAME)


def test_save_load_and_checkpoint_file_round_trip(tmp_path: Path) -> None:
    model = small(num_classes=4)
    model.reset_classifier(5)
    x = torch.randn(1, 3, 32, 32)
    ffseg.save_pretrained(model, tmp_path / "m")
    loaded = ffseg.load_pretrained(tmp_path / "m").eval()
    assert loaded.pretrained_cfg.architecture == NAME
    assert torch.equal(model(x), loaded(x))
    torch.save(model.state_dict(), tmp_path / "m.pth")
    from_file = load_model(tmp_path / "m.pth", name=NAME, **SMALL).eval()
    assert from_file.num_classes == 5 and torch.equal(model(x), from_file(x))


def test_plain_smp_checkpoint_and_local_encoder_weights_load(tmp_path: Path) -> None:
    import segmentation_models_pytorch as smp

    plain = smp.Unet("resnet18", encoder_weights=None, classes=3, **SMALL)
    torch.save(plain.state_dict(), tmp_path / "plain.pth")
    torch.save(plain.encoder.state_dict(), tmp_path / "encoder.pth")
    model = small()
    model.load_state_dict(torch.load(tmp_path / "plain.pth"), strict=True)
    fresh = small(pretrained_backbone=tmp_path / "encoder.pth")
    assert torch.equal(fresh.encoder.conv1.weight, plain.encoder.conv1.weight)


def test_engine_builds_smp_students_and_teachers_and_trusts_the_name() -> None:
    student = build_model(NAME, 3, kwargs=SMALL)
    assert student.pretrained_cfg.architecture == NAME
    teacher = build_teacher(KDConfig(teacher=NAME, teacher_kwargs=SMALL, weight=1.0), 3)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    cfg = Config()
    cfg.model.name, cfg.kd.teacher = "smp:FPN:resnet18", NAME
    check_names_from_disk(cfg, "last.pt")  # data, not code: accepted from a checkpoint


def test_onnx_export_and_trace_match_pytorch(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from ffseg.deploy.export import export_onnx

    model = small()
    report = export_onnx(model, tmp_path / "m.onnx", (32, 32), dynamo=False, sidecar=False)
    assert report.max_abs_diff < 1e-4
    traced = torch.jit.trace(model, torch.randn(1, 3, 32, 32))  # padding follows the input
    x = torch.randn(1, 3, 40, 56)
    assert torch.allclose(traced(x), model(x))


def test_trains_through_fit_and_the_run_folder_reloads(tmp_path: Path) -> None:
    from ffseg.config import load_config
    from ffseg.engine.train import fit

    cfg = load_config(
        "demo",
        [
            "data.train_kwargs={n: 2, size: [32, 32], seed: 0}",
            "data.val_kwargs={n: 1, size: [32, 32], seed: 1}",
            "data.crop_size=[32, 32]",
            "data.scale_range=[1.0, 1.0]",
            "data.batch_size=2",
            f"model.name={NAME}",
            "model.kwargs={decoder_channels: [16, 8, 8, 4, 4]}",
            "train.iters=1",
            "sched.warmup_iters=0",
            f"train.output_dir={tmp_path}",
            "log.progress=false",
            "log.tensorboard=false",
            "log.overlays=0",
        ],
    )
    result = fit(cfg)
    reloaded = load_model(result.run_dir)
    assert reloaded.pretrained_cfg.architecture == NAME
    assert reloaded.num_classes == result.num_classes
