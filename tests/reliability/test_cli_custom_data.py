"""A two-class folder with 0/255 masks: check-data warns and names the label_map that fixes
it; with it, the class has pixels; unknown dataset options are clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ffseg.cli import main
from ffseg.data import DataError, build_dataset


@pytest.fixture
def binary_folder(tmp_path: Path) -> Path:
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "annotations" / split).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((64, 64, 3), 30 * i, np.uint8)).save(
                tmp_path / "images" / split / f"{i}.jpg"
            )
            mask = np.zeros((64, 64), np.uint8)
            mask[16:48, 16:48] = 255
            Image.fromarray(mask).save(tmp_path / "annotations" / split / f"{i}.png")
    return tmp_path


def test_check_data_warns_about_0_255_masks(capsys, binary_folder) -> None:
    argv = ["check-data", "--data", "folder", "--data-root", str(binary_folder)]
    main([*argv, "--classes", "background,object"])
    out = capsys.readouterr().out
    assert "no pixels: object" in out and "label_map {0: 0, 255: 1}" in out


def test_label_map_fixes_binary_masks(capsys, binary_folder) -> None:
    argv = ["check-data", "--data", "folder", "--data-root", str(binary_folder)]
    assert main([*argv, "--classes", "background,object", "--label-map", "0:0,255:1"]) == 0
    out = capsys.readouterr().out
    assert "WARNING" not in out and out.strip().endswith("OK")


def test_bad_label_map_flag(capsys, binary_folder) -> None:
    with pytest.raises(SystemExit):
        main(["check-data", "--data", "folder", "--label-map", "255=1"])
    assert "0:0,255:1" in capsys.readouterr().err


def test_switching_to_folder_with_foreign_kwargs_is_clear(binary_folder) -> None:
    with pytest.raises(DataError, match=r"'seed'.*classes.*data.train_kwargs"):
        build_dataset("folder", binary_folder, "train", seed=0, classes=["a", "b"])


def test_dataset_yaml_describes_the_folder(capsys, binary_folder) -> None:
    (binary_folder / "dataset.yaml").write_text(
        "classes: [background, object]\npalette: [[0, 0, 0], [0, 200, 0]]\n"
        "label_map: {0: 0, 255: 1}\n"
    )
    assert main(["check-data", "--data", "folder", "--data-root", str(binary_folder)]) == 0
    assert "WARNING" not in capsys.readouterr().out
    dataset = build_dataset("folder", binary_folder, "val")
    assert dataset.classes == ("background", "object") and dataset.palette[1] == (0, 200, 0)


def test_dataset_yaml_ignore_index_and_unknown_keys(binary_folder) -> None:
    yaml_file = binary_folder / "dataset.yaml"
    yaml_file.write_text("classes: [background, object]\nignore_index: 0\n")
    with pytest.raises(DataError, match="255"):  # 255 is no class once 0 is the ignore value
        build_dataset("folder", binary_folder, "val")[0]
    yaml_file.write_text("classes: [a, b]\ncolours: [[0, 0, 0]]\n")
    with pytest.raises(DataError, match=r"dataset.yaml.*colours.*allowed: classes, palette"):
        build_dataset("folder", binary_folder, "val")


def test_convert_masks_maps_palette_colours_to_indices(capsys, tmp_path) -> None:
    src = tmp_path / "rgb" / "sub"
    src.mkdir(parents=True)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:4] = (0, 200, 0)
    rgb[0, 0] = (1, 2, 3)  # no class
    Image.fromarray(rgb).save(src / "a.png")
    (tmp_path / "dataset.yaml").write_text(
        "classes: [bg, leaf]\npalette: [[0, 0, 0], [0, 200, 0]]\n"
    )
    argv = ["convert-masks", "--src", str(tmp_path / "rgb"), "--out", str(tmp_path / "idx")]
    assert main([*argv, "--palette", str(tmp_path / "dataset.yaml")]) == 0
    assert "1 pixel(s)" in capsys.readouterr().out
    index = np.asarray(Image.open(tmp_path / "idx" / "sub" / "a.png"))
    assert index[0, 0] == 255 and index[1, 0] == 1 and index[5, 5] == 0


def test_convert_masks_bad_palette(capsys, tmp_path) -> None:
    argv = ["convert-masks", "--src", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main([*argv, "--palette", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "nosuch" in err and "cityscapes" in err and "Traceback" not in err


def test_check_data_compares_the_model_class_count(capsys, binary_folder) -> None:
    argv = ["check-data", "--data", "folder", "--data-root", str(binary_folder)]
    argv += ["--classes", "background,object", "--label-map", "0:0,255:1", "--split", "val"]
    assert main([*argv, "--model", "ddrnet23_slim"]) == 0
    out = capsys.readouterr().out
    assert "ddrnet23_slim outputs 19 classes but folder/val has 2" in out
    assert "model.num_classes=2" in out
