"""FolderDataset (custom data) and ImageFolderClassification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ffseg.data import DataError, FolderDataset, ImageFolderClassification, build_dataset
from tests.data.fixtures import save_png


def _folder(root: Path, masks: list[np.ndarray], sub: str = "") -> Path:
    for i, m in enumerate(masks):
        save_png(
            root / "images" / "train" / sub / f"im{i}.jpg", np.full((*m.shape, 3), 90, np.uint8)
        )
        save_png(root / "annotations" / "train" / sub / f"im{i}.png", m.astype(np.uint8))
    return root


def test_pairs_by_suffix_with_subfolders_and_generated_palette(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", [np.array([[0, 1], [2, 255]])] * 2, sub="seq1")
    ds = FolderDataset(root / "images/train", root / "annotations/train", classes=["a", "b", "c"])
    assert len(ds) == 2 and len(ds.palette) == 3 and len(set(ds.palette)) == 3
    assert ds[0][1].tolist() == [[0, 1], [2, 255]]
    same = build_dataset("folder", root, "train", classes=["a", "b", "c"])
    assert len(same) == 2


def test_reduce_zero_label_and_label_map(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", [np.array([[0, 1], [2, 3]])])
    args = (root / "images/train", root / "annotations/train")
    ds = FolderDataset(*args, classes=["a", "b", "c"], reduce_zero_label=True)
    assert ds[0][1].tolist() == [[255, 0], [1, 2]]
    ds = FolderDataset(*args, classes=["a", "b"], label_map={0: 255, 1: 0, 2: 1, 3: 1})
    assert ds[0][1].tolist() == [[255, 0], [1, 1]]
    with pytest.raises(DataError, match=r"label_map targets \{3: 7\}"):
        FolderDataset(*args, classes=["a", "b"], label_map={3: 7})


def test_list_file(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", [np.zeros((4, 4))])
    (root / "list.txt").write_text("images/train/im0.jpg annotations/train/im0.png\n")
    ds = FolderDataset(root, list_file=root / "list.txt", classes=["x"])
    assert len(ds) == 1 and ds[0][1].shape == (4, 4)


def test_folder_errors_name_files_and_fixes(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", [np.array([[0, 5]])])
    args = (root / "images/train", root / "annotations/train")
    with pytest.raises(DataError, match=r"im0.png' contains value\(s\) 5 .*0-1, 255.*label_map"):
        FolderDataset(*args, classes=["a", "b"])[0]
    with pytest.raises(DataError, match=r"No .png images .*empty split.*img_suffix"):
        FolderDataset(*args, img_suffix=".png", classes=["a"])
    with pytest.raises(DataError, match=r"1 of 1 images have no mask, e.g. .*im0_mask.png"):
        FolderDataset(*args, ann_suffix="_mask.png", classes=["a"])
    with pytest.raises(DataError, match="needs classes"):
        FolderDataset(*args)
    with pytest.raises(DataError, match=r"Annotation folder .* does not exist"):
        FolderDataset(args[0], tmp_path / "nope", classes=["a"])


def test_image_folder_classification(tmp_path: Path) -> None:
    for cls, n in (("cat", 2), ("dog", 3)):
        for i in range(n):
            save_png(tmp_path / "val" / cls / f"{i}.png", np.full((8, 10, 3), i, np.uint8))
    ds = build_dataset("imagenet", tmp_path, "val")
    assert isinstance(ds, ImageFolderClassification)
    assert ds.classes == ("cat", "dog") and len(ds) == 5 and ds.num_classes == 2
    image, label = ds[4]
    assert image.shape == (3, 8, 10) and image.dtype == torch.uint8 and label == 1
    with pytest.raises(DataError, match=r"split 'train' .* does not exist"):
        ImageFolderClassification(tmp_path, "train")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(DataError, match="empty split"):
        ImageFolderClassification(tmp_path, "empty")
