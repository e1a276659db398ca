"""The right model, or a one-line refusal (issue 19: "The right model", "Flags", "No code").

Weights recorded for another model, non-finite or integer weights, ``--ema`` without EMA
weights, a reordered class list and a slide stride larger than its window are refused before
any work, naming both sides and the fix; no file is changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

import ffseg
from ffseg.cli import main
from ffseg.engine.evaluate import InferenceSpec
from ffseg.models import WeightsError, load_model, read_state_dict

SMALL = "ffnet22s_bbb_mobile"  # same layout as ffnet22s_dbbb_mobile (the "d" is a stride)
OTHER = "ffnet22s_dbbb_mobile"
DATA = ["--data", "synthetic", "--num-images", "1"]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A save_pretrained folder of a 5-class :data:`SMALL` with synthetic data's classes."""
    model = ffseg.create_model(SMALL, num_classes=5)
    classes = ("sky", "road", "building", "vegetation", "car")
    model.pretrained_cfg = model.pretrained_cfg.replace(classes=classes, input_size=(3, 64, 96))
    return ffseg.save_pretrained(model, tmp_path_factory.mktemp("saved"))


def test_weights_recorded_for_another_model_are_refused(saved: Path, capsys) -> None:
    before = _digest(saved)
    for weights in (saved, saved / "model.safetensors"):
        with pytest.raises(WeightsError) as err:
            load_model(weights, name=OTHER)
        message = str(err.value)
        assert SMALL in message and OTHER in message and "drop --model" in message
        assert main(["val", "--model", OTHER, "--weights", str(weights), *DATA]) == 2
        err_line = capsys.readouterr().err.strip()
        assert len(err_line.splitlines()) == 1 and SMALL in err_line and OTHER in err_line
    assert load_model(saved / "model.safetensors").pretrained_cfg.architecture == SMALL
    assert load_model(saved, name=SMALL.upper()).num_classes == 5  # the same name, any case
    assert _digest(saved) == before


@pytest.mark.parametrize("bad", ["nan", "inf", "int64"])
def test_non_finite_or_integer_weights_are_refused(saved: Path, tmp_path: Path, bad: str) -> None:
    state = load_file(str(saved / "model.safetensors"))
    key = next(k for k in state if k.endswith("weight"))
    if bad == "int64":
        state[key] = state[key].to(torch.int64)
    else:
        state[key] = state[key].clone()
        state[key].view(-1)[3] = float(bad)
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    with pytest.raises(WeightsError, match=key):
        read_state_dict(path)
    with pytest.raises(WeightsError, match="NaN or infinite" if bad != "int64" else "int64"):
        load_model(path, name=SMALL)
    before = _digest(tmp_path)
    assert main(["val", "--model", SMALL, "--weights", str(path), *DATA]) == 2
    assert _digest(tmp_path) == before


def test_ema_without_ema_weights_is_an_error(saved: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(WeightsError, match=r"no EMA weights.*drop --ema"):
        read_state_dict(saved / "model.safetensors", use_ema=True)
    checkpoint = tmp_path / "last.pt"
    torch.save({"model": load_file(str(saved / "model.safetensors")), "ema": None}, checkpoint)
    assert main(["val", "--model", SMALL, "--weights", str(checkpoint), "--ema", *DATA]) == 2
    assert "no EMA weights" in capsys.readouterr().err
    ema = {"model": {}, "ema": load_file(str(saved / "model.safetensors"))}
    torch.save(ema, checkpoint)
    assert len(read_state_dict(checkpoint, use_ema=True)) > 0  # with EMA weights it loads


def test_val_refuses_a_reordered_class_list(saved: Path, tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    (data / "images" / "val").mkdir(parents=True)
    (data / "annotations" / "val").mkdir(parents=True)
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(data / "images" / "val" / "0.jpg")
    Image.fromarray(np.zeros((64, 96), np.uint8)).save(data / "annotations" / "val" / "0.png")
    reordered = "road,sky,building,vegetation,car"
    args = ["val", "--weights", str(saved), "--data", "synthetic", "--num-images", "1"]
    assert main(args) == 0  # the recorded classes: scored
    capsys.readouterr()
    code = main([*args[:-4], "--data", "folder", "--data-root", str(data), "--classes", reordered])
    err = capsys.readouterr().err
    assert code == 2 and "sky, road, building" in err and "road, sky, building" in err
    assert "--classes sky,road,building,vegetation,car" in err


def test_slide_stride_larger_than_window_is_refused(saved: Path, capsys) -> None:
    with pytest.raises(ValueError, match="larger than the window"):
        InferenceSpec("slide", crop_size=(64, 64), stride=(65, 32))
    args = ["val", "--weights", str(saved), *DATA, "--mode", "slide", "--stride", "100", "100"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "stride 100x100 is larger than the window 64x96" in err


def _folder_naming(tmp_path: Path, saved: Path, architecture: str) -> Path:
    folder = tmp_path / "crafted"
    folder.mkdir()
    config = json.loads((saved / "config.json").read_text())
    config["pretrained_cfg"]["architecture"] = architecture
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes((saved / "model.safetensors").read_bytes())
    return folder


def test_a_stored_hub_encoder_is_refused_offline(saved: Path, tmp_path: Path, capsys) -> None:
    folder = _folder_naming(tmp_path, saved, "smp:Unet:tu-hf_hub:timm/some-model")
    before = _digest(folder)
    with pytest.raises(ValueError, match="fetched from a model hub"):
        load_model(folder)
    out = tmp_path / "out"
    args = ["predict", "--weights", str(folder), "--source", str(folder), "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "model hub" in err and "config.yaml" not in err
    assert _digest(folder) == before and not out.exists()


def test_a_stored_callable_refusal_points_at_no_file_of_the_folder(
    saved: Path, tmp_path: Path
) -> None:
    from ffseg.config import load_config
    from ffseg.engine.build import check_names_from_disk

    folder = _folder_naming(tmp_path, saved, "torch.hub:load")
    with pytest.raises(ValueError) as err:
        load_model(folder)
    assert "config.yaml" not in str(err.value) and "torch.hub:load" in str(err.value)
    for override in (
        "model.name=torch.hub:load",
        "kd.smp={encoder_name: resnet18, encoder_weights: imagenet}",
    ):
        cfg = load_config("demo", [override])
        with pytest.raises(ValueError) as err:
            check_names_from_disk(cfg, "runs/r/last.pt")
        message = str(err.value)
        assert "Nothing was" in message and "--resume" not in message
        assert "config.yaml" not in message


def test_hubs_are_offline_while_a_stored_name_is_built(monkeypatch) -> None:
    import os

    from ffseg.models._offline import HUB_OFFLINE_ENV, hubs_offline

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with hubs_offline():
        assert all(os.environ[key] == "1" for key in HUB_OFFLINE_ENV)
    assert "HF_HUB_OFFLINE" not in os.environ
