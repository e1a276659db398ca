"""``check-data`` fails when it finds what makes a class unlearnable (0/255 masks, colour
masks) and says so once for the whole set; ``convert-masks`` names unmatched colours and
never writes over its input or through a link it did not create."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ffseg.cli import main
from tests.data.fixtures import make_folder, save_png, tree_hashes

H, W = 32, 48
CHECK = ["check-data", "--data", "folder", "--data-root"]


def _binary(value: int = 255) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[8:24, 8:40] = value
    return mask


def _folder(root: Path, masks: dict[str, np.ndarray], classes: str = "[background, leaf]"):
    for split in ("train", "val"):
        make_folder(root, masks, split=split, classes=classes)
    return root


def _colour_folder(tmp_path: Path) -> tuple[Path, Path]:
    """``tmp_path/colour/{a,b,sub/c}.png`` colour masks and a dataset.yaml with a palette."""
    src = tmp_path / "colour"
    for name in ("a", "b", "sub/c"):
        rgb = np.zeros((H, W, 3), np.uint8)
        rgb[:8] = (0, 200, 0)
        rgb[8:10] = (1, 2, 3)  # in no palette: 2 rows
        rgb[10] = (9, 9, 9)  # in no palette: 1 row
        save_png(src / f"{name}.png", rgb)
    yaml_file = tmp_path / "dataset.yaml"
    yaml_file.write_text("classes: [bg, leaf]\npalette: [[0, 0, 0], [0, 200, 0]]\n")
    return src, yaml_file


@pytest.mark.parametrize("masks", ["0/255", "0/255 val only"])
def test_check_data_fails_on_0_255_masks(tmp_path: Path, capsys, masks: str) -> None:
    root = _folder(tmp_path / "d", {"a": _binary(), "b": _binary()})
    before = tree_hashes(root)
    argv = [*CHECK, str(root)] + (["--split", "val"] if "val" in masks else [])
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1].startswith("FAILED: problems found")
    problem = [line for line in out.splitlines() if line.startswith("    - ")]
    assert len(problem) == (1 if "val" in masks else 2)  # one line per split scanned
    assert "have no pixels: leaf" in problem[0] and "label_map {0: 0, 255: 1}" in problem[0]
    assert tree_hashes(root) == before


def test_check_data_passes_once_the_label_map_is_given(tmp_path: Path, capsys) -> None:
    root = _folder(tmp_path / "d", {"a": _binary()})
    (root / "dataset.yaml").write_text("classes: [background, leaf]\nlabel_map: {0: 0, 255: 1}\n")
    assert main([*CHECK, str(root)]) == 0
    out = capsys.readouterr().out
    assert "problems found" not in out.replace("no problems found", "") and "WARNING" not in out


def test_raw_id_masks_far_above_the_class_count_fail(tmp_path: Path, capsys) -> None:
    root = _folder(tmp_path / "d", {"a": _binary(0)})
    (root / "dataset.yaml").write_text("classes: [bg, leaf]\nlabel_map: {0: 0, 1: 1, 200: 255}\n")
    save_png(root / "annotations" / "train" / "a.png", _binary(200))
    assert main([*CHECK, str(root), "--split", "train"]) == 1
    out = capsys.readouterr().out
    assert "mask values go up to 200 for 2 classes" in out and "convert-masks" in out


def test_colour_masks_are_one_line_for_the_whole_set(tmp_path: Path, capsys) -> None:
    masks = {f"m{i}": np.zeros((H, W, 3), np.uint8) for i in range(40)}
    root = make_folder(tmp_path / "d", masks)
    before = tree_hashes(root)
    assert main([*CHECK, str(root), "--split", "train"]) == 1
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "colour" in line]
    assert len(lines) == 1, out
    assert "40 of 40 masks are colour (RGB) images" in lines[0] and "m0.png" in lines[0]
    assert "ffseg convert-masks --src" in lines[0]
    assert tree_hashes(root) == before


def test_convert_masks_lists_unmatched_colours_with_counts(tmp_path: Path, capsys) -> None:
    src, yaml_file = _colour_folder(tmp_path)
    before = tree_hashes(src)
    argv = ["convert-masks", "--src", str(src), "--out", str(tmp_path / "idx")]
    assert main([*argv, "--palette", str(yaml_file)]) == 0
    out = capsys.readouterr().out
    assert f"[1, 2, 3]: {3 * 2 * W}, [9, 9, 9]: {3 * W}" in out
    index = np.asarray(Image.open(tmp_path / "idx" / "sub" / "c.png"))
    assert index[0, 0] == 1 and index[8, 0] == 255 and index[20, 0] == 0
    assert tree_hashes(src) == before


@pytest.mark.parametrize("out", [".", "sub", "new/inside"])
def test_convert_masks_refuses_an_out_in_src(tmp_path: Path, capsys, out: str) -> None:
    src, yaml_file = _colour_folder(tmp_path)
    before = tree_hashes(tmp_path)
    argv = ["convert-masks", "--src", str(src), "--out", str(src / out)]
    assert main([*argv, "--palette", str(yaml_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is --src" in err[0] and "outside --src" in err[0]
    assert tree_hashes(tmp_path) == before
    assert not (src / "new").exists()


def test_convert_masks_refuses_an_out_that_resolves_to_src(tmp_path: Path, capsys) -> None:
    src, yaml_file = _colour_folder(tmp_path)
    (tmp_path / "alias").symlink_to(src)
    before = tree_hashes(src)
    argv = ["convert-masks", "--src", str(src), "--out", str(tmp_path / "alias")]
    assert main([*argv, "--palette", str(yaml_file)]) == 2
    assert "outside --src" in capsys.readouterr().err
    assert tree_hashes(src) == before


def test_convert_masks_never_writes_through_a_link(tmp_path: Path, capsys) -> None:
    src, yaml_file = _colour_folder(tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "c.png").write_bytes(b"precious")
    out = tmp_path / "idx"
    out.mkdir()
    (out / "sub").symlink_to(victim)  # a link ffseg did not create
    (out / "a.png").symlink_to(victim / "c.png")
    before = tree_hashes(victim)
    argv = ["convert-masks", "--src", str(src), "--out", str(out)]
    assert main([*argv, "--palette", str(yaml_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symbolic link" in err[0] and "idx" in err[0]
    assert tree_hashes(victim) == before and os.path.islink(out / "a.png")
    assert not (out / "b.png").exists()  # refused before any write


def test_convert_masks_does_not_read_linked_sources(tmp_path: Path, capsys) -> None:
    src, yaml_file = _colour_folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    save_png(elsewhere / "x.png", np.zeros((H, W, 3), np.uint8))
    (src / "linked").symlink_to(elsewhere)
    argv = ["convert-masks", "--src", str(src), "--out", str(tmp_path / "idx")]
    assert main([*argv, "--palette", str(yaml_file)]) == 0
    assert "wrote 3 index mask(s)" in capsys.readouterr().out
    assert not (tmp_path / "idx" / "linked").exists()
