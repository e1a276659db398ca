"""Images are read as the user sees them: EXIF rotation applied by every reader, high bit
depths scaled (never clipped), folder datasets pair every common format in any case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ffseg
from ffseg.cli import main
from ffseg.data import build_dataset
from ffseg.data.datasets import read_image, read_mask
from ffseg.data.decode import scale_to_uint8
from ffseg.inference import load_image
from tests.data.fixtures import make_folder, save_png, save_rotated, tree_hashes
from tests.reliability.conftest import MODEL

H, W = 32, 48
CHECK = ["check-data", "--data", "folder", "--split", "train", "--data-root"]


def _stored() -> np.ndarray:
    """A 32x48 image whose top-left corner is white (to see where rotation puts it)."""
    image = np.zeros((H, W, 3), np.uint8)
    image[:4, :4] = 255
    return image


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_every_reader_applies_the_exif_rotation(tmp_path: Path, suffix: str) -> None:
    path = save_rotated(tmp_path / f"photo{suffix}", _stored(), orientation=6)
    before = tree_hashes(tmp_path)
    shown = np.asarray(Image.open(path).transpose(Image.Transpose.ROTATE_270))
    assert tuple(read_image(path).shape) == (3, W, H)
    array = load_image(path)
    assert array.shape == (W, H, 3)
    assert np.abs(array.astype(int) - shown.astype(int)).mean() < 8  # lossy formats differ a bit
    assert load_image(Image.open(path)).shape == (W, H, 3)  # an opened PIL image too
    assert tree_hashes(tmp_path) == before


@pytest.mark.slow
def test_segmenter_predicts_a_mask_of_the_displayed_size(tmp_path: Path) -> None:
    stored = np.zeros((64, 96, 3), np.uint8)  # the model's minimum input is 64x64
    path = save_rotated(tmp_path / "portrait.jpg", stored, orientation=8)
    segmenter = ffseg.Segmenter(ffseg.create_model(MODEL, num_classes=2))
    assert tuple(segmenter(path).mask.shape) == (96, 64)


def test_rotated_image_pairs_with_a_mask_drawn_as_displayed(tmp_path: Path, capsys) -> None:
    root = make_folder(tmp_path, {"a": np.ones((W, H), np.uint8)}, image_suffix=".jpg")
    save_rotated(root / "images" / "train" / "a.jpg", _stored(), orientation=6)
    before = tree_hashes(root)
    image, mask = build_dataset("folder", root, "train")[0]
    assert tuple(image.shape) == (3, W, H) and tuple(mask.shape) == (W, H)
    assert main([*CHECK, str(root)]) == 0
    out = capsys.readouterr().out
    assert "NOTE: 1 image(s) carry an EXIF rotation" in out and "a.jpg" in out
    assert tree_hashes(root) == before


@pytest.mark.parametrize("orientation", [6, 8])
def test_check_data_refuses_a_mask_of_the_unrotated_size(
    tmp_path: Path, capsys, orientation: int
) -> None:
    root = make_folder(tmp_path, {"a": np.ones((H, W), np.uint8)}, image_suffix=".jpg")
    save_rotated(root / "images" / "train" / "a.jpg", _stored(), orientation=orientation)
    before = tree_hashes(root)
    assert main([*CHECK, str(root)]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if "EXIF orientation" in line]
    assert len(problems) == 1
    assert f"EXIF orientation {orientation}" in problems[0] and "a.png" in problems[0]
    assert f"{W}x{H}" in problems[0] and "rotate the mask" in problems[0]
    assert tree_hashes(root) == before


def test_12_bit_image_in_a_16_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.linspace(0, 4095, H * W).reshape(H, W).astype(np.uint16)
    path = tmp_path / "12bit.png"
    Image.fromarray(ramp).save(path)  # mode I;16
    before = tree_hashes(tmp_path)
    image = read_image(path).numpy()
    assert (image == 255).mean() < 0.01  # clipping made 94 % of it 255
    assert image.max() == 255 and image.min() == 0
    assert abs(float(image.mean()) - 127.5) < 2
    np.testing.assert_array_equal(load_image(path), image.transpose(1, 2, 0))
    assert tree_hashes(tmp_path) == before


def test_16_bit_tiff_and_float_tiff_use_their_range(tmp_path: Path) -> None:
    full = np.linspace(0, 65535, H * W).reshape(H, W).astype(np.uint16)
    Image.fromarray(full).save(tmp_path / "16bit.tif")
    floats = np.linspace(-1.0, 3.0, H * W).reshape(H, W).astype(np.float32)
    Image.fromarray(floats, mode="F").save(tmp_path / "float.tiff")
    for name in ("16bit.tif", "float.tiff"):
        image = read_image(tmp_path / name).numpy()
        assert image.min() == 0 and image.max() == 255 and abs(image.mean() - 127.5) < 2


def test_scale_rule_picks_the_smallest_standard_depth() -> None:
    assert scale_to_uint8(np.array([0, 1023], np.uint16)).tolist() == [0, 255]  # 10 bits
    assert scale_to_uint8(np.array([0, 1024], np.uint16)).tolist() == [0, 64]  # 12 bits
    assert scale_to_uint8(np.array([0, 200], np.uint16)).tolist() == [0, 200]  # 8 bits kept
    assert scale_to_uint8(np.array([0.0, 0.5, 1.0], np.float32)).tolist() == [0, 128, 255]


def test_folder_pairs_every_format_in_any_case(tmp_path: Path, capsys) -> None:
    names = ["0.jpg", "1.JPG", "2.JPG", "3.jpeg", "4.png", "5.TIF", "6.webp", "7.bmp"]
    root = make_folder(tmp_path, {Path(n).stem: np.zeros((H, W), np.uint8) for n in names})
    images = root / "images" / "train"
    for name in names:
        (images / f"{Path(name).stem}.png").unlink()
        Image.fromarray(_stored()).save(
            images / name, format=Image.registered_extensions()[Path(name).suffix.lower()]
        )
    (root / "annotations" / "train" / "7.png").rename(root / "annotations" / "train" / "7.PNG")
    before = tree_hashes(root)
    assert len(build_dataset("folder", root, "train")) == len(names)
    assert main([*CHECK, str(root)]) == 0
    assert f"{len(names)} samples" in capsys.readouterr().out
    assert tree_hashes(root) == before


def test_folder_refuses_two_images_of_one_name(tmp_path: Path, capsys) -> None:
    root = make_folder(tmp_path, {"a": np.zeros((H, W), np.uint8)}, image_suffix=".jpg")
    save_png(root / "images" / "train" / "a.png", _stored())
    before = tree_hashes(root)
    assert main([*CHECK, str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'a.jpg' and 'a.png'" in err[0] and "rename or remove" in err[0]
    assert tree_hashes(root) == before


def test_mask_reader_applies_exif_too(tmp_path: Path) -> None:
    path = save_rotated(tmp_path / "m.png", np.zeros((H, W), np.uint8), orientation=6)
    assert read_mask(path).shape == (W, H)


@pytest.mark.slow
def test_predict_writes_masks_in_display_orientation(tmp_path: Path, ckpt11: Path) -> None:
    source = tmp_path / "photos"
    save_rotated(source / "portrait.jpg", np.zeros((64, 96, 3), np.uint8), orientation=6)
    before = tree_hashes(source)
    argv = ["predict", "--model", MODEL, "--weights", str(ckpt11), "--source", str(source)]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    with Image.open(tmp_path / "out" / "portrait.png") as mask:
        assert mask.size == (64, 96)  # (W, H) as displayed
    assert tree_hashes(source) == before


def test_folder_skips_hidden_resource_forks(tmp_path: Path) -> None:
    root = make_folder(tmp_path, {"a": np.zeros((H, W), np.uint8)}, image_suffix=".jpg")
    (root / "images" / "train" / "._a.jpg").write_bytes(b"\x00\x05\x16\x07 macOS fork")
    before = tree_hashes(root)
    assert [p.name for p, _ in build_dataset("folder", root, "train").samples] == ["a.jpg"]
    assert tree_hashes(root) == before
