"""Batch inference on a local two-worker Ray instance: the same files as ``ffseg predict``,
a worker killed mid-run, and a failed job resumed without recomputing finished outputs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ffseg
from ffseg.cli import main
from ffseg.inference import Segmenter
from ffseg.inference.files import segment_path
from ffseg.inference.ray_predict import list_images, predict_dataset

ray = pytest.importorskip("ray", reason="the ray extra (pip install 'ffseg[ray]')")

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("mask", "overlay")


class DiesOnce(Segmenter):
    """A segmenter whose worker process exits (as if killed) before its ``after+1``-th image,
    the first time only: ``marker`` records that it happened."""

    def __init__(self, model: torch.nn.Module, marker: Path, after: int) -> None:
        super().__init__(model)
        self.marker, self.after, self.seen = marker, after, 0

    def predict_batch(self, batch: torch.Tensor, return_probs: bool = False) -> list:
        self.seen += len(batch)
        if self.seen > self.after and not self.marker.exists():
            self.marker.touch()
            os._exit(1)
        return super().predict_batch(batch, return_probs)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """Two CPUs, so two workers; they import this module (and ffseg) like the driver."""
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src"), saved or ""])
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return ffseg.create_model("ffnet40s_bbb_mobile", num_classes=11, init="kaiming").eval()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)).save(
            folder / f"img{i}.png"
        )
    return folder


@pytest.fixture(scope="module")
def expected(model, images, tmp_path_factory) -> Path:
    """The outputs of plain ``ffseg predict`` (``segment_path``)."""
    out = tmp_path_factory.mktemp("plain")
    segment_path(Segmenter(model), images, out, kinds=KINDS)
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_sources_folder_glob_and_list(images, tmp_path) -> None:
    folder = list_images(images)
    assert [p.name for p in folder] == [f"img{i}.png" for i in range(10)]
    assert list_images(str(images / "img[0-2].png")) == folder[:3]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two images\n{images / 'img1.png'}\n\n{images / 'img4.png'}\n")
    assert list_images(listing) == [folder[1], folder[4]]
    with pytest.raises(FileNotFoundError, match=r"glob pattern or a \.txt list"):
        list_images(tmp_path / "missing")
    with pytest.raises(ValueError, match="matches no image"):
        list_images(str(tmp_path / "*.jpg"))


def test_two_images_with_one_stem_are_refused(model, images, tmp_path) -> None:
    other = tmp_path / "img1.png"
    other.write_bytes((images / "img1.png").read_bytes())
    with pytest.raises(ValueError, match="same output files"):
        predict_dataset(Segmenter(model), [images / "img1.png", other], tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


class FailsAfter(Segmenter):
    """A segmenter that raises from its ``after+1``-th image on (a job that fails: a bug, a
    full disk): every later batch fails too, so no queued task writes more."""

    def __init__(self, model: torch.nn.Module, after: int) -> None:
        super().__init__(model)
        self.after, self.seen = after, 0

    def predict_batch(self, batch: torch.Tensor, return_probs: bool = False) -> list:
        self.seen += len(batch)
        if self.seen > self.after:
            raise RuntimeError("the job failed")
        return super().predict_batch(batch, return_probs)


@pytest.mark.slow
def test_a_failed_job_resumes_and_a_killed_worker_loses_nothing(
    local_ray, model, images, expected, tmp_path
) -> None:
    out = tmp_path / "out"
    failing = FailsAfter(model, after=3)
    with pytest.raises(Exception, match="the job failed"):
        predict_dataset(
            failing, images, out, kinds=KINDS, batch_size=2, workers=1, images_per_task=4
        )
    finished = _mtimes(out)
    assert len(finished) == 2 * 2  # the first batch of two images, mask and overlay
    assert not [name for name in finished if name.endswith(".tmp")]  # atomic writes only
    stems = [f"img{i}" for i in range(10)]
    done_before = [s for s in stems if {f"{s}.png", f"{s}_overlay.png"} <= finished.keys()]

    # The re-run finishes the job although a worker is killed mid-task (after 2 of its 5
    # images): Ray restarts it and retries the task, which skips the 2 written images.
    dies = DiesOnce(model, tmp_path / "killed", after=2)  # dies after writing 2 images
    result = predict_dataset(dies, images, out, kinds=KINDS, batch_size=2, images_per_task=5)
    assert (tmp_path / "killed").exists()  # a worker did die, and was restarted
    assert result.skipped == len(done_before) and result.written == 10 - len(done_before)
    assert {n: t for n, t in _mtimes(out).items() if n in finished} == finished  # not redone
    assert _files(out) == _files(expected)  # byte for byte what ffseg predict writes
    assert result.images_per_s > 0

    before = _mtimes(out)
    again = predict_dataset(Segmenter(model), images, out, kinds=KINDS)
    assert (again.written, again.skipped) == (0, 10) and _mtimes(out) == before


@pytest.mark.slow
def test_cli_predict_ray_reports_images_per_second(local_ray, images, tmp_path, capsys) -> None:
    args = ["predict", "--ray", "--model", "ffnet40s_bbb_mobile", "--num-classes", "11"]
    assert main([*args, "--source", str(images / "*.png"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "10 image(s) segmented" in out and "images/s" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"img{i}.png" for i in range(10)]


@pytest.mark.slow
def test_cli_predict_ray_runs_an_exported_file_given_as_weights(
    local_ray, model, images, tmp_path, capsys
) -> None:
    """``--weights m.onnx``: each worker opens the file (a runtime session cannot be pickled),
    and the masks are those of the PyTorch model at the exported (the images') size."""
    pytest.importorskip("onnxruntime")
    from ffseg.deploy.export import export_model

    onnx = tmp_path / "m.onnx"
    export_model(model, onnx, (64, 96))
    out = tmp_path / "out"
    args = ["predict", "--ray", "--weights", str(onnx), "--source", str(images)]
    assert main([*args, "--out", str(out)]) == 0
    assert "10 image(s) segmented" in capsys.readouterr().out
    reference = tmp_path / "reference"  # PyTorch at the exported size
    segment_path(Segmenter(model, size=(64, 96)), images, reference)
    names = sorted(p.name for p in reference.iterdir())
    agree = [
        np.mean(np.asarray(Image.open(out / name)) == np.asarray(Image.open(reference / name)))
        for name in names
    ]
    assert sorted(p.name for p in out.iterdir()) == names and min(agree) > 0.99


def test_the_facade_exports_predict_dataset() -> None:
    assert ffseg.predict_dataset is predict_dataset and "predict_dataset" in ffseg.__all__


def test_cli_refuses_address_without_ray(images, tmp_path, capsys) -> None:
    args = ["predict", "--model", "ffnet40s_bbb_mobile", "--source", str(images)]
    assert main([*args, "--out", str(tmp_path / "out"), "--address", "auto"]) == 2
    assert "--address is for --ray" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_without_ray_names_the_extra(images, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("ffseg.deploy.extras._installed", lambda module: module != "ray")
    args = ["predict", "--ray", "--model", "ffnet40s_bbb_mobile", "--source", str(images)]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    assert "pip install 'ffseg[ray]'" in capsys.readouterr().err
