"""``ffseg train`` / ``ffseg demo`` command lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffseg.cli import main

TINY = [
    "--set",
    "data.train_kwargs={n: 8, size: [64, 64]}",
    "--set",
    "data.val_kwargs={n: 2, size: [64, 64], seed: 1}",
    "--set",
    "data.crop_size=[64, 64]",
    "--set",
    "data.batch_size=4",
    "--set",
    "train.iters=2",
    "--set",
    "log.progress=false",
    "--set",
    "log.tensorboard=false",
]


def test_print_config_applies_overrides(capsys) -> None:
    assert main(["train", "--print-config", "--set", "optim.lr=0.5"]) == 0
    assert "lr: 0.5" in capsys.readouterr().out


def test_print_config_rejects_unknown_choices(capsys) -> None:
    assert main(["train", "--print-config", "--set", "loss.name=cee"]) == 2
    assert "Did you mean 'ce'" in capsys.readouterr().err


def test_recipe_by_name_and_listing(capsys) -> None:
    name = "ffnet22s_dbbb_mobile_camvid-180x240_cpu"
    assert main(["train", "--config", name, "--print-config"]) == 0
    assert "name: ffnet22s_dbbb_mobile_camvid" in capsys.readouterr().out
    assert main(["train", "--config", "ffnet22s_dbbb_mobile_camvid", "--print-config"]) == 2
    assert name in capsys.readouterr().err  # close names are listed
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("demo ") for line in lines)
    assert any(line.startswith(name) and "CamVid" in line for line in lines)


def test_bad_override_exits_with_clear_error(capsys) -> None:
    assert main(["train", "--set", "optim.momentun=0.9"]) == 2
    assert "Did you mean 'momentum'" in capsys.readouterr().err


def test_missing_recipe_names_the_file(capsys, tmp_path: Path) -> None:
    assert main(["train", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_demo_trains_evaluates_and_writes_overlays(capsys, tmp_path: Path) -> None:
    assert main(["demo", "--output-dir", str(tmp_path), *TINY, "--set", "log.overlays=1"]) == 0
    out = capsys.readouterr().out
    assert "val mIoU" in out and "chance" in out
    assert (tmp_path / "demo" / "overlays" / "val_000.png").is_file()


@pytest.mark.slow
def test_train_then_resume_from_cli(capsys, tmp_path: Path) -> None:
    args = ["train", "--output-dir", str(tmp_path), "--name", "r", *TINY, "--set", "log.overlays=0"]
    assert main(args) == 0
    assert main(["train", "--resume", str(tmp_path / "r")]) == 0  # already finished: no-op
    assert "run folder" in capsys.readouterr().out
