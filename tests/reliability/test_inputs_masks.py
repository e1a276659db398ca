"""Masks that cannot be class indices (negative, float, JPEG, beyond the class count) and
mistyped ``dataset.yaml`` fields are refused by the loaders and ``check-data`` alike, in one
line naming the file or key, the value and the fix; no user file changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ffseg.cli import main
from ffseg.data import DataError, build_dataset
from tests.data.fixtures import make_folder, tree_hashes

H, W = 32, 48
CHECK = ["check-data", "--data", "folder", "--split", "train", "--data-root"]


def _mask(value: float = 1, dtype: type = np.uint8) -> np.ndarray:
    mask = np.zeros((H, W), dtype)
    mask[8:24, 8:40] = value
    return mask


def _dataset_with(tmp_path: Path, name: str, array: np.ndarray, fmt: str | None = None) -> Path:
    """A two-class folder whose mask ``name`` holds ``array`` (saved in ``fmt``)."""
    root = make_folder(tmp_path / "data", {"a": _mask()})
    masks = root / "annotations" / "train"
    (masks / "a.png").unlink()
    Image.fromarray(array).save(masks / name, format=fmt)
    suffix = Path(name).suffix
    (root / "dataset.yaml").write_text(f"classes: [bg, fg]\nann_suffix: {suffix}\n")
    return root


BAD_MASKS = {
    # name, array, format, what the message must name (value, fix)
    "negative": ("a.tif", _mask(-1, np.int32), None, ("-1", "0..N-1", "a.tif")),
    "float": ("a.tiff", _mask(0.5, np.float32), None, ("0.5", "integer PNG", "a.tiff")),
    "jpeg": ("a.jpg", _mask(1), None, ("JPEG", "Save masks as PNG", "a.jpg")),
    "jpeg named png": ("a.png", _mask(1), "JPEG", ("JPEG", "Save masks as PNG", "a.png")),
    "beyond classes": ("a.png", _mask(7), None, ("value(s) 7", "label_map", "a.png")),
    "16-bit beyond": ("a.png", _mask(300, np.uint16), None, ("300", "label_map", "a.png")),
}


@pytest.mark.parametrize("case", BAD_MASKS)
def test_bad_mask_refused_by_loader_and_check_data(tmp_path: Path, capsys, case: str) -> None:
    name, array, fmt, words = BAD_MASKS[case]
    root = _dataset_with(tmp_path, name, array, fmt)
    before = tree_hashes(root)
    with pytest.raises(DataError) as info:
        build_dataset("folder", root, "train")[0]
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message
    assert main([*CHECK, str(root)]) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("    - ")]
    assert len(problems) == 1 and all(w in problems[0] for w in words), out
    assert "FAILED" in out
    assert tree_hashes(root) == before


BAD_YAML = {
    "classes string": ("classes: bg,fg", ("classes", "'bg,fg'", "[background, leaf]")),
    "classes booleans": ("classes: [no, yes]", ("classes", "False", "quote")),
    "classes twice": ("classes: [a, a]", ("classes", "'a'", "twice")),
    "palette value": (
        "classes: [a, b]\npalette: [[0, 0, 0], [300, 0, 0]]",
        ("palette", "[300, 0, 0]", "0..255"),
    ),
    "palette count": (
        "classes: [a, b]\npalette: [[0, 0, 0]]",
        ("palette", "[[0, 0, 0]]", "1 colour(s) for 2 classes"),
    ),
    "palette string": ("classes: [a, b]\npalette: red", ("palette", "'red'", "[r, g, b]")),
    "label_map list": ("classes: [a, b]\nlabel_map: [0, 1]", ("label_map", "[0, 1]", "{0: 0")),
    "label_map target": ("classes: [a, b]\nlabel_map: {0: x}", ("label_map", "'x'", "255")),
    "ignore_index": ("classes: [a, b]\nignore_index: zero", ("ignore_index", "'zero'", "0..255")),
    "reduce_zero_label": (
        "classes: [a, b]\nreduce_zero_label: 'yes'",
        ("reduce_zero_label", "'yes'", "true"),
    ),
    "img_suffix": ("classes: [a, b]\nimg_suffix: 5", ("img_suffix", "5", ".jpg")),
}


@pytest.mark.parametrize("case", BAD_YAML)
def test_mistyped_dataset_yaml_is_refused(tmp_path: Path, capsys, case: str) -> None:
    text, words = BAD_YAML[case]
    root = make_folder(tmp_path / "data", {"a": _mask()})
    (root / "dataset.yaml").write_text(text + "\n")
    before = tree_hashes(root)
    assert main([*CHECK, str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dataset.yaml" in err[0], err
    assert all(w in err[0] for w in words), err[0]
    assert tree_hashes(root) == before


def test_classes_as_a_string_in_a_recipe_are_refused(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "data", {"a": _mask()})
    (root / "dataset.yaml").unlink()
    with pytest.raises(DataError, match=r"classes: 'bg,fg' is one string.*\[background, leaf\]"):
        build_dataset("folder", root, "train", classes="bg,fg")


def test_label_map_keys_from_json_and_above_255(tmp_path: Path) -> None:
    root = _dataset_with(tmp_path, "a.png", _mask(300, np.uint16))
    dataset = build_dataset("folder", root, "train", label_map={"0": 0, "300": 1})
    assert int(dataset[0][1].max()) == 1
