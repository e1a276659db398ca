"""Generated datasets in the real on-disk layouts (tiny images, real label ids)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

CITIES = {"train": ["aachen", "bochum"], "val": ["frankfurt", "lindau"], "test": ["berlin"],
          "train_extra": ["augsburg"]}  # fmt: skip


def save_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def make_cityscapes(
    root: Path,
    per_city: int = 2,
    size: tuple[int, int] = (24, 48),
    splits: tuple[str, ...] = ("train", "val"),
    seed: int = 0,
) -> Path:
    """Cityscapes layout: leftImg8bit + gtFine (train/val/test) + gtCoarse (train_extra).

    Label maps are random blocks of all 34 label ids; next to each ``*_labelIds.png`` the
    companion files of the official zips (color, instanceIds, polygons) exist too.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    for split in splits:
        for city in CITIES[split]:
            for k in range(per_city):
                stem = f"{city}_{k:06d}_{19 + k:06d}"
                image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                save_png(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", image)
                blocks = rng.integers(0, 34, (h // 4, w // 4), dtype=np.uint8)
                label_ids = np.kron(blocks, np.ones((4, 4), dtype=np.uint8))
                gt = "gtCoarse" if split == "train_extra" else "gtFine"
                base = root / gt / split / city / f"{stem}_{gt}"
                if split == "test":
                    label_ids[:] = 0  # the official test labels are all "unlabeled"
                save_png(Path(f"{base}_labelIds.png"), label_ids)
                save_png(Path(f"{base}_instanceIds.png"), label_ids.astype(np.uint16) * 1)
                save_png(Path(f"{base}_color.png"), np.zeros((h, w, 3), dtype=np.uint8))
                Path(f"{base}_polygons.json").write_text(
                    json.dumps({"imgHeight": h, "imgWidth": w})
                )
    return root


def make_camvid_like(
    root: Path, n: int = 3, size: tuple[int, int] = (24, 32), seed: int = 0
) -> Path:
    """A CamVid-style folder: ``train.txt`` / ``val.txt`` listing image and label pairs."""
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        lines = []
        for i in range(n):
            save_png(root / split / f"{i}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
            save_png(root / f"{split}annot" / f"{i}.png", rng.integers(0, 12, size, dtype=np.uint8))
            lines.append(f"{split}/{i}.png {split}annot/{i}.png")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def tree_hashes(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (to prove nothing changed)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def save_rotated(path: Path, array: np.ndarray, orientation: int = 6) -> Path:
    """Save ``array`` (stored pixels) with an EXIF orientation tag (6: shown rotated 90°)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(array).save(path, exif=exif)
    return path


def make_folder(
    root: Path,
    masks: dict[str, np.ndarray],
    image_suffix: str = ".png",
    split: str = "train",
    classes: str = "[bg, fg]",
) -> Path:
    """A folder dataset ``root/{images,annotations}/<split>`` with a ``dataset.yaml``: one
    random 32x48 image per mask (``{stem: mask}``, masks saved as given: PNG unless the stem
    has a suffix)."""
    rng = np.random.default_rng(0)
    for stem, mask in masks.items():
        name = stem if Path(stem).suffix else f"{stem}.png"
        save_png(root / "annotations" / split / name, mask)
        image = rng.integers(0, 256, (*mask.shape[:2], 3), dtype=np.uint8)
        save_png(root / "images" / split / f"{Path(stem).stem}{image_suffix}", image)
    (root / "dataset.yaml").write_text(f"classes: {classes}\n")
    return root
