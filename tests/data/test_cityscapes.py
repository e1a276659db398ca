"""Cityscapes: layout, label-id mapping, coarse / extra / pseudo labels, official parity."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from cityscapesscripts.helpers.labels import labels as official_labels
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

from ffseg.data import (
    CITYSCAPES_CLASSES,
    Cityscapes,
    DataError,
    build_dataset,
    eval_transforms,
    labelid_to_trainid,
    trainid_to_labelid,
)
from ffseg.engine.evaluate import evaluate
from tests.data.fixtures import make_cityscapes, save_png


@pytest.fixture
def cs_root(tmp_path: Path) -> Path:
    return make_cityscapes(tmp_path / "cityscapes", splits=("train", "val", "test", "train_extra"))


def _official_train_id(label_id: int) -> int:
    label = next(lab for lab in official_labels if lab.id == label_id)
    return 255 if label.trainId in (255, -1) else label.trainId


def test_label_mapping_for_all_34_ids_and_license_plate() -> None:
    ids = np.arange(-1, 34)
    expected = np.array([_official_train_id(i) for i in ids])
    np.testing.assert_array_equal(labelid_to_trainid(ids), expected)
    assert labelid_to_trainid(np.array([255]))[0] == 255  # -1 stored in a uint8 PNG
    assert sorted(set(expected) - {255}) == list(range(19))
    names = {lab.trainId: lab.name for lab in official_labels if 0 <= lab.trainId < 19}
    assert tuple(names[i] for i in range(19)) == CITYSCAPES_CLASSES
    with pytest.raises(DataError, match=r"\[34\] are not Cityscapes label ids"):
        labelid_to_trainid(np.array([7, 34]))


def test_trainid_to_labelid_inverts_the_mapping() -> None:
    train_ids = np.arange(19)
    np.testing.assert_array_equal(labelid_to_trainid(trainid_to_labelid(train_ids)), train_ids)


def test_fine_splits_read_the_real_layout_and_map_ids(cs_root: Path) -> None:
    ds = Cityscapes(cs_root, "val")
    assert len(ds) == 4 and ds.num_classes == 19 and ds.sample_name(0) == "frankfurt_000000_000019"
    image, mask = ds[1]
    assert image.shape == (3, 24, 48) and mask.dtype == torch.int64
    raw = np.asarray(Image.open(ds.samples[1][1]))
    np.testing.assert_array_equal(mask.numpy(), labelid_to_trainid(raw))
    assert isinstance(build_dataset("cityscapes", cs_root, "train"), Cityscapes)


def test_label_train_ids_files_are_accepted(tmp_path: Path) -> None:
    root = make_cityscapes(tmp_path / "cs", splits=("val",))
    for path in sorted(root.glob("gtFine/val/*/*_labelIds.png")):
        train_ids = labelid_to_trainid(np.asarray(Image.open(path))).astype(np.uint8)
        save_png(Path(str(path).replace("_labelIds", "_labelTrainIds")), train_ids)
        path.unlink()
    ds = Cityscapes(root, "val")
    assert ds.samples[0][1].name.endswith("_labelTrainIds.png")
    assert set(ds[0][1].unique().tolist()) <= set(range(19)) | {255}


def test_coarse_train_extra_and_pseudo_labels(cs_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no fine labels: use mode='coarse'"):
        Cityscapes(cs_root, "train_extra")
    coarse = Cityscapes(cs_root, "train_extra", mode="coarse")
    assert len(coarse) == 2 and coarse.samples[0][1].parent.parts[-3] == "gtCoarse"
    pseudo_dir = tmp_path / "pseudo"
    stem = coarse.sample_name(0)
    save_png(pseudo_dir / "augsburg" / f"{stem}_leftImg8bit.png", np.full((24, 48), 13, np.uint8))
    with_pseudo = Cityscapes(cs_root, "train_extra", mode="coarse", pseudo_label_dir=pseudo_dir)
    assert bool((with_pseudo[0][1] == 13).all())  # pseudo labels are train ids, used as is
    assert torch.equal(with_pseudo[1][1], coarse[1][1])  # images without one keep their labels


def test_test_split_returns_ignore_masks(cs_root: Path) -> None:
    ds = Cityscapes(cs_root, "test")
    assert len(ds) == 2 and bool((ds[0][1] == 255).all())


def test_bad_layouts_name_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Cityscapes root '.*nowhere' does not exist"):
        Cityscapes(tmp_path / "nowhere")
    (tmp_path / "cs" / "leftImg8bit" / "val" / "x").mkdir(parents=True)
    with pytest.raises(DataError, match=r"No \*_leftImg8bit.png images .*empty split"):
        Cityscapes(tmp_path / "cs", "val")
    root = make_cityscapes(tmp_path / "cs2", splits=("val",))
    with pytest.raises(DataError, match=r"leftImg8bit/train'.*Extract leftImg8bit_trainvaltest"):
        Cityscapes(root, "train")
    with pytest.raises(DataError, match="split 'valid' unknown"):
        Cityscapes(root, "valid")
    label = sorted(root.glob("gtFine/val/*/*_labelIds.png"))[0]
    arr = np.asarray(Image.open(label)).copy()
    arr[0, 0] = 40
    save_png(label, arr)
    with pytest.raises(DataError, match=r"_labelIds.png' contains value\(s\) 40 .*0-33, 255"):
        Cityscapes(root, "val")[0]


class _DecodeRed(nn.Module):
    """A 'model' reading the prediction encoded in the red channel (train id * 10)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = x[:, :1] * 255
        classes = torch.arange(19, dtype=x.dtype).view(1, 19, 1, 1) * 10
        return -((red - classes) ** 2)


def test_miou_equals_the_official_cityscapes_evaluator(tmp_path: Path) -> None:
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

    root = make_cityscapes(tmp_path / "cs", per_city=3, size=(32, 64), splits=("val",))
    rng = np.random.default_rng(1)
    pred_files, gt_files = [], []
    for path in sorted(root.glob("leftImg8bit/val/*/*.png")):
        stem = path.name.replace("_leftImg8bit.png", "")
        gt_path = next(root.glob(f"gtFine/val/*/{stem}_gtFine_labelIds.png"))
        gt = labelid_to_trainid(np.asarray(Image.open(gt_path)))
        noisy = rng.integers(0, 19, gt.shape)
        keep = (rng.random(gt.shape) < 0.7) & (gt != 255)
        pred = np.where(keep, gt, noisy).astype(np.uint8)
        pred[:, :8] = 5  # some classes get extra false positives
        image = np.asarray(Image.open(path)).copy()
        image[..., 0] = pred * 10  # the model decodes this channel
        save_png(path, image)
        pred_files.append(
            str(save_png(tmp_path / "pred" / f"{stem}.png", trainid_to_labelid(pred)))
        )
        gt_files.append(str(gt_path))

    official.args.evalInstLevelScore = False
    official.args.JSONOutput = False
    official.args.quiet = True
    ref = official.evaluateImgLists(pred_files, gt_files, official.args)

    ds = Cityscapes(root, "val", transforms=eval_transforms(mean=(0, 0, 0), std=(1, 1, 1)))
    ours = evaluate(_DecodeRed(), DataLoader(ds, batch_size=2), 19)
    assert ours["num_images"] == 6
    for name, iou in zip(CITYSCAPES_CLASSES, ours["iou"]):
        expected = ref["classScores"][name]
        assert (math.isnan(iou) and math.isnan(expected)) or abs(iou - expected) < 1e-9, name
    assert abs(ours["miou"] - ref["averageScoreClasses"]) < 1e-9
    assert 0.2 < ours["miou"] < 0.95 and sum(math.isnan(v) for v in ours["iou"]) == 0
