"""``data.cache``: the training set decoded once into memory gives the samples the files give."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torchvision import tv_tensors

from ffseg.config import ConfigError, load_config
from ffseg.data import build_dataset
from ffseg.data.views import Decoded
from ffseg.engine.data import build_data, decoded_in_memory
from tests.data.fixtures import make_camvid_like


@pytest.fixture
def camvid(tmp_path: Path) -> Path:
    return make_camvid_like(tmp_path / "camvid", n=3)


def test_decoded_samples_equal_the_files_and_keep_their_types(camvid: Path) -> None:
    files = build_dataset("camvid", camvid, "train", None)
    decoded = Decoded(files)
    assert len(decoded) == len(files) == 3
    for i in range(len(files)):
        (image, mask), (cached_image, cached_mask) = files[i], decoded[i]
        assert type(cached_image) is type(image) and type(cached_mask) is tv_tensors.Mask
        assert cached_mask.dtype == mask.dtype == torch.int64
        assert torch.equal(cached_image, image) and torch.equal(cached_mask, mask)
    # masks are held narrow (uint8 class ids): 24x32 images + masks, 3 samples
    assert decoded.nbytes == 3 * (3 * 24 * 32 + 24 * 32)


def test_a_transform_working_in_place_does_not_change_the_cache(camvid: Path) -> None:
    decoded = Decoded(build_dataset("camvid", camvid, "train", None))
    image, mask = decoded[0]
    before_image, before_mask = image.clone(), mask.clone()
    image.add_(1)
    mask.fill_(7)
    again_image, again_mask = decoded[0]
    assert torch.equal(again_image, before_image) and torch.equal(again_mask, before_mask)


def test_auto_caches_what_fits_an_eighth_of_memory(camvid: Path, caplog) -> None:
    files = build_dataset("camvid", camvid, "train", None)
    assert decoded_in_memory(files, False) is files
    assert isinstance(decoded_in_memory(files, True), Decoded)
    per_sample = 3 * 24 * 32 + 24 * 32
    assert isinstance(decoded_in_memory(files, "auto", memory=8 * 3 * per_sample), Decoded)
    with caplog.at_level(logging.INFO, logger="ffseg.engine.data"):
        assert decoded_in_memory(files, "auto", memory=8 * 3 * per_sample - 8) is files
    assert "read from disk every epoch" in caplog.text


def test_recipe_key_and_the_run_data(camvid: Path) -> None:
    assert load_config("camvid_15min_cpu").data.cache == "auto"
    assert load_config("demo").data.cache is False
    with pytest.raises(ConfigError, match=r"data\.cache"):
        load_config("demo", ["data.cache=sometimes"])
    cfg = load_config(
        "camvid_15min_cpu", [f"data.root={camvid}", "data.class_uniform=0", "data.cache=true"]
    )
    data = build_data(cfg)
    assert isinstance(data.train, Decoded) and len(data.train) == 3
