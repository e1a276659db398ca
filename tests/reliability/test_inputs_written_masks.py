"""Index masks are written by one helper that never wraps (16-bit PNG above 255 classes) and
can write palette PNGs; binary overlays leave the background untinted and carry a legend."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from ffseg.inference.predictions import PredictionWriter
from ffseg.inference.segmenter import SegResult
from ffseg.viz import index_mask_image, overlay, write_index_mask

H, W = 32, 48
PALETTE = [(0, 0, 0), (0, 200, 0), (200, 0, 0)]


def _labels(top: int) -> np.ndarray:
    labels = np.zeros((H, W), np.int64)
    labels[8:24, 8:40] = top
    labels[0, 0] = 1
    return labels


@pytest.mark.parametrize(("top", "mode"), [(2, "L"), (255, "L"), (256, "I;16"), (300, "I;16")])
def test_index_masks_keep_every_value(tmp_path: Path, top: int, mode: str) -> None:
    path = write_index_mask(tmp_path / "m.png", _labels(top))
    with Image.open(path) as image:
        assert image.mode == mode
        np.testing.assert_array_equal(np.asarray(image), _labels(top))


def test_palette_mask_holds_the_indices_in_class_colours(tmp_path: Path) -> None:
    path = write_index_mask(tmp_path / "m.png", _labels(2), palette=PALETTE)
    with Image.open(path) as image:
        assert image.mode == "P"
        np.testing.assert_array_equal(np.asarray(image), _labels(2))
        assert np.asarray(image.convert("RGB"))[10, 10].tolist() == [200, 0, 0]


def test_palette_mask_of_more_than_256_classes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"reaches 300 .*mask format 'index'") as info:
        write_index_mask(tmp_path / "m.png", _labels(300), palette=PALETTE)
    assert "\n" not in str(info.value) and not (tmp_path / "m.png").exists()


@pytest.mark.parametrize("name", ["m.jpg", "m.webp"])
def test_index_masks_are_lossless_pngs_only(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=rf"lossless \.png files, not '{name}'"):
        write_index_mask(tmp_path / name, _labels(2))
    assert not (tmp_path / name).exists()


def test_predict_and_save_preds_write_16_bit_masks_above_255_classes(tmp_path: Path) -> None:
    result = SegResult(torch.from_numpy(_labels(300)), np.zeros((H, W, 3), np.uint8), PALETTE)
    with Image.open(result.save(tmp_path / "pred.png", "mask")) as image:
        assert image.mode == "I;16" and int(np.asarray(image).max()) == 300
    dataset = SimpleNamespace(palette=PALETTE, sample_name=lambda i: f"s{i}")
    writer = PredictionWriter(tmp_path / "preds", dataset, [0], batch_size=1)
    writer(torch.from_numpy(_labels(300))[None], 0)
    with Image.open(tmp_path / "preds" / "trainIds" / "s0.png") as image:
        np.testing.assert_array_equal(np.asarray(image), _labels(300))


def test_binary_overlay_leaves_the_background_untinted() -> None:
    image = np.full((H, W, 3), 120, np.uint8)
    mask = _labels(1)
    mask[30, 30] = 255  # ignored pixels stay untinted too
    blended = np.asarray(overlay(image, mask, PALETTE[:2]))
    assert (blended[mask == 0] == 120).all() and (blended[mask == 255] == 120).all()
    assert (blended[mask == 1] != 120).any()
    three = np.asarray(overlay(image, mask, PALETTE))  # not binary: class 0 is tinted
    assert (three[mask == 0] != 120).any()


def test_overlay_carries_a_legend_of_the_classes_shown() -> None:
    image = np.full((H, W, 3), 120, np.uint8)
    plain = overlay(image, _labels(1), PALETTE[:2])
    keyed = overlay(image, _labels(1), PALETTE[:2], classes=["background", "leaf"])
    assert plain.size == (W, H)
    assert keyed.height > H and keyed.width >= W
    legend_rows = np.asarray(keyed)[H:]
    assert (legend_rows == PALETTE[1]).all(axis=-1).any()  # the leaf swatch is drawn


def test_index_mask_image_refuses_negative_and_fractional_values() -> None:
    with pytest.raises(ValueError, match=r"values -1\.\.-1 do not fit 0\.\.65535"):
        index_mask_image(np.full((2, 2), -1))
    with pytest.raises(ValueError, match="fractional"):
        index_mask_image(np.full((2, 2), 0.5))
