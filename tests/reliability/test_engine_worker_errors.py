"""A bad image read by a DataLoader worker process (in training and in training's evaluation)
is one line naming the file, not the worker's traceback; no run folder is left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ffseg.cli import main
from ffseg.engine.data import worker_error_cause


def _folder(root: Path, bad: str) -> bytes:
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "annotations" / split).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((32, 48, 3), 30 * i, np.uint8)).save(
                root / "images" / split / f"{i}.jpg"
            )
            mask = np.zeros((32, 48), np.uint8)
            mask[8:24, 8:24] = 1
            Image.fromarray(mask).save(root / "annotations" / split / f"{i}.png")
    path = root / "images" / bad
    path.write_bytes(path.read_bytes()[:80])  # truncated
    return path.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("bad", ["train/2.jpg", "val/3.jpg"])
def test_bad_image_in_a_worker_is_one_line(tmp_path: Path, capsys, bad: str) -> None:
    data = _folder(tmp_path / "ds", bad)
    args = ["train", "-c", "demo", "--output-dir", str(tmp_path / "runs")]
    for item in (
        "data.name=folder",
        f"data.root={tmp_path / 'ds'}",
        "data.train_kwargs={classes: [bg, fg]}",
        "data.val_kwargs={classes: [bg, fg]}",
        "data.crop_size=[32, 48]",
        "data.scale_range=[1.0, 1.0]",
        "data.batch_size=2",
        "data.workers=2",
        "model.kwargs.backbone=resnet22s",
        "train.iters=2",
        "log.progress=false",
        "log.overlays=0",
        "log.tensorboard=false",
    ):
        args += ["--set", item]
    assert main(args) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out + err, err
    assert lines[0].startswith("ffseg train: error: ") and bad in lines[0]
    assert "DataLoader worker" not in lines[0]
    assert (tmp_path / "ds" / "images" / bad).read_bytes() == data
    runs = list((tmp_path / "runs").iterdir())
    if bad.startswith("train"):  # failed before any checkpoint: no run folder left
        assert runs == []
    else:  # the epoch's checkpoint is written before evaluation: kept, unlocked
        assert [p.name for p in runs] == ["demo"] and (runs[0] / "last.pt").is_file()
        assert not (runs[0] / ".lock").exists()


class _Broken(Dataset):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> torch.Tensor:
        raise self.error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValueError("cannot read 'a.png': truncated; replace it"), "cannot read 'a.png': "),
        (KeyError("no class 'cat'"), "no class 'cat'"),
        (OSError("image file is truncated"), "image file is truncated"),
    ],
)
def test_worker_error_cause_is_the_original_one_line(error: Exception, expected: str) -> None:
    with pytest.raises(type(error)) as caught:
        next(iter(DataLoader(_Broken(error), num_workers=1)))
    cause = worker_error_cause(caught.value)
    assert type(cause) is type(error)
    assert str(cause).strip("'\"").startswith(expected.strip("'\""))
    assert "\n" not in str(cause) and "Traceback" not in str(cause)


def test_other_errors_are_not_worker_errors() -> None:
    assert worker_error_cause(ValueError("plain")) is None


@pytest.mark.slow
def test_bad_image_in_a_val_worker_is_one_line(tmp_path: Path, capsys) -> None:
    """``ffseg val --workers 2`` over a truncated image: the original error in one line."""
    data = _folder(tmp_path / "ds", "val/1.jpg")
    args = ["val", "--model", "ffnet22s_dbbb_mobile", "--data", "folder"]
    args += ["--data-root", str(tmp_path / "ds"), "--classes", "bg,fg", "--workers", "2"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    lines = [line.split("\r")[-1].strip() for line in err.strip().splitlines()]
    lines = [line for line in lines if line and not line.startswith(("WARNING", "eval:"))]
    assert len(lines) == 1 and "Traceback" not in out + err, err
    assert lines[0].startswith("ffseg val: error: ") and "1.jpg" in lines[0]
    assert "DataLoader worker" not in lines[0]
    assert (tmp_path / "ds" / "images" / "val" / "1.jpg").read_bytes() == data
