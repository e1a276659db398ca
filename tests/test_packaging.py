"""A regular (non-editable) install works from another folder: recipes and the model index are
package data, the demo recipe is found by name, and a named recipe trains."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAMVID = ROOT.parent / "shared" / "datasets" / "camvid"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """ffseg built as a wheel and installed into a folder of its own (no source tree on the path)."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(ROOT)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
    return site, env


def _ffseg(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ffseg", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_installed_package_is_used_and_ships_its_data(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    site, env = installed
    where = subprocess.run(
        [sys.executable, "-c", "import ffseg; print(ffseg.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(site)), where.stdout
    recipes = _ffseg(env, tmp_path, "recipes")
    assert recipes.returncode == 0, recipes.stderr
    assert "demo" in recipes.stdout and "ffnet22s_dbbb_mobile_camvid-180x240_cpu" in recipes.stdout
    listing = _ffseg(env, tmp_path, "list", "ddrnet*")
    assert listing.returncode == 0 and "ddrnet23_slim" in listing.stdout, listing.stderr


@pytest.mark.slow
def test_installed_package_trains_a_named_recipe(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    if not (CAMVID / "train.txt").is_file():
        pytest.skip("CamVid is not in ../shared/datasets/camvid")
    _, env = installed
    overrides = [
        f"data.root={CAMVID}", "train.iters=5", "data.subset=16", "data.val_subset=2",
        "data.workers=0", "log.progress=false", "log.overlays=0", "log.tensorboard=false",
        f"train.output_dir={tmp_path / 'runs'}",
    ]  # fmt: skip
    sets = [arg for value in overrides for arg in ("--set", value)]
    run = _ffseg(
        env, tmp_path, "train", "--config", "ffnet22s_dbbb_mobile_camvid-180x240_cpu", *sets
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert list((tmp_path / "runs").glob("*/last.pt")), run.stderr[-2000:]
