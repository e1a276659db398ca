"""docs/CUSTOM_DATA.md's two-class walkthrough runs as written on a generated 0/255 folder."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ffseg.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "CUSTOM_DATA.md"


def _walkthrough() -> tuple[dict[str, str], list[str]]:
    """The walkthrough's files (``# path`` first line -> text) and its commands."""
    section = DOC.read_text().split("## Two-class walkthrough", 1)[1]
    files, commands = {}, []
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, re.S):
        if lang == "yaml":
            header, text = body.split("\n", 1)
            files[header.lstrip("# ").strip()] = text
        elif lang == "bash":
            commands += [line for line in body.splitlines() if line.startswith("ffseg ")]
    return files, commands


def _make_leaves(root: Path, n: int = 4, size: tuple[int, int] = (64, 80)) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for i in range(n):
            mask = np.zeros(size, dtype=np.uint8)
            y, x = rng.integers(8, 40, 2)
            mask[y : y + 20, x : x + 30] = 255  # the leaf
            image = rng.integers(0, 80, (*size, 3), dtype=np.uint8)
            image[mask == 255] = (40, 200, 40)
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            (root / "annotations" / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / "images" / split / f"{i:03d}.jpg", quality=95)
            Image.fromarray(mask).save(root / "annotations" / split / f"{i:03d}.png")


@pytest.mark.slow
def test_walkthrough_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, commands = _walkthrough()
    assert set(files) == {"leaves/dataset.yaml", "leaves.yaml"} and len(commands) == 5
    monkeypatch.chdir(tmp_path)
    _make_leaves(tmp_path / "leaves")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, command
    assert (tmp_path / "runs" / "leaves" / "best.safetensors").is_file()
    assert list((tmp_path / "preds").iterdir())
    assert (tmp_path / "leaves.onnx").is_file()
