"""``val --save-preds`` on images of one name in different sub-folders: every prediction is
kept, under the sub-folder it came from (no overwrite)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ffseg.cli import main
from ffseg.data.datasets.base import unique_sample_names


def test_unique_sample_names_mirror_sub_folders(tmp_path: Path) -> None:
    assert unique_sample_names([tmp_path / "a.png", tmp_path / "b.jpg"]) == ["a", "b"]
    paths = [tmp_path / "x" / "0.png", tmp_path / "y" / "0.png", tmp_path / "y" / "1.png"]
    assert unique_sample_names(paths) == ["x/0", "y/0", "y/1"]
    same_stem = [tmp_path / "x" / "0.png", tmp_path / "x" / "0.jpg"]
    assert unique_sample_names(same_stem) == ["0.png", "0.jpg"]


@pytest.mark.slow
def test_val_save_preds_keeps_same_named_images_apart(tmp_path: Path, capsys) -> None:
    root = tmp_path / "ds"
    for city, value in (("a", 40), ("b", 200)):
        for kind in ("images", "annotations"):
            (root / kind / "val" / city).mkdir(parents=True)
        image = np.full((32, 48, 3), value, np.uint8)
        Image.fromarray(image).save(root / "images" / "val" / city / "0.png")
        mask = np.zeros((32, 48), np.uint8)
        mask[:, 24:] = 1
        Image.fromarray(mask).save(root / "annotations" / "val" / city / "0.png")
    out = tmp_path / "preds"
    argv = ["val", "--model", "ffnet22s_dbbb_mobile", "--data", "folder"]
    argv += ["--data-root", str(root), "--classes", "bg,fg", "--split", "val"]
    argv += ["--save-preds", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["color/a/0.png", "color/b/0.png", "trainIds/a/0.png", "trainIds/b/0.png"]
