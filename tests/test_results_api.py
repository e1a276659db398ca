"""The results API: ``ffseg.load(path).predict(source)`` over every source that needs no camera,
with the masks of ``Segmenter`` (what ``ffseg predict`` writes)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ffseg
from ffseg.inference import Segmenter
from ffseg.inference.results import Predictor
from ffseg.inference.sources import iter_source


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model") / "fssnet"
    ffseg.save_pretrained(ffseg.create_model("fssnet", num_classes=5).eval(), folder)
    return folder


@pytest.fixture(scope="module")
def predictor(model_dir: Path) -> Predictor:
    return ffseg.load(model_dir)


def _image(h: int = 32, w: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _write_video(path: Path, frames: int = 3) -> list[np.ndarray]:
    av = pytest.importorskip("av")
    written = [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(frames)]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for frame in written:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return written


def test_results_match_segmenter_and_have_the_result_methods(
    predictor: Predictor, model_dir: Path, tmp_path: Path
) -> None:
    image = _image()
    expected = Segmenter(ffseg.load_model(model_dir))(image, return_probs=True)
    (result,) = predictor.predict(image, probs=True)
    assert result.name == "image" and torch.equal(result.mask, expected.mask)
    assert result.probs is not None and torch.allclose(result.probs, expected.probs)
    assert result.plot().size == result.overlay().size == (48, 32)
    areas = result.areas()
    assert set(areas) <= set(predictor.classes) and sum(areas.values()) == pytest.approx(1.0)
    saved = result.save(tmp_path / "out" / "mask.png")
    assert np.array_equal(np.asarray(Image.open(saved)), expected.mask.numpy())
    assert predictor.predict(image)[0].probs is None
    assert predictor.info()["name"] == "fssnet" and predictor.backend == "torch (cpu)"


@pytest.mark.slow
def test_every_offline_source_type(predictor: Predictor, tmp_path: Path) -> None:
    images = [_image(seed=i) for i in range(3)]
    folder = tmp_path / "images"
    folder.mkdir()
    for i, array in enumerate(images):
        Image.fromarray(array).save(folder / f"img{i}.png")
    (folder / "notes.txt").write_text("not an image")
    single = [predictor.predict(a)[0].mask for a in images]
    tensor = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
    sources = {
        "path": (folder / "img0.png", ["img0"]),
        "str": (str(folder / "img1.png"), ["img1"]),
        "folder": (folder, ["img0", "img1", "img2"]),
        "glob": (str(folder / "img[12].png"), ["img1", "img2"]),
        "list": ([folder / "img2.png", images[0]], ["img2", "image"]),
        "array": (images[1], ["image"]),
        "array batch": (np.stack(images), ["image_000000", "image_000001", "image_000002"]),
        "pil": (Image.fromarray(images[2]), ["image"]),
        "tensor": (tensor[0], ["image"]),
        "tensor batch": (tensor, ["image_000000", "image_000001", "image_000002"]),
    }
    index = {"img0": 0, "img1": 1, "img2": 2, "image": None}
    for kind, (source, names) in sources.items():
        results = predictor.predict(source)
        assert [r.name for r in results] == names, kind
        for result in results:
            which = index.get(result.name)
            if which is None:  # an in-memory image: compare by content
                which = next(i for i, a in enumerate(images) if np.array_equal(a, result.image))
            assert torch.equal(result.mask, single[which]), kind


def test_batches_and_streams_give_the_same_masks(predictor: Predictor, tmp_path: Path) -> None:
    images = [_image(seed=i) for i in range(3)] + [_image(40, 48, seed=3)]
    one = predictor.predict(images)
    batched = predictor.predict(images, batch=3)
    stream = predictor.predict(images, stream=True, batch=2)
    assert isinstance(stream, Iterator)
    for results in (batched, list(stream)):
        assert len(results) == 4
        assert all(torch.equal(a.mask, b.mask) for a, b in zip(one, results))


def test_video_file_and_http_stream(predictor: Predictor, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    _write_video(video)
    frames = predictor.predict(video, stream=True)
    results = list(frames)
    assert [r.name for r in results] == ["clip_000000", "clip_000001", "clip_000002"]
    assert all(r.mask.shape == (32, 32) for r in results)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.mp4"
        streamed = predictor.predict(url)
    finally:
        server.shutdown()
        thread.join(10)
    assert [r.name for r in streamed] == ["stream_000000", "stream_000001", "stream_000002"]
    assert all(torch.equal(a.mask, b.mask) for a, b in zip(results, streamed))


def test_bad_sources_and_paths_name_the_problem(predictor: Predictor, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.png does not exist"):
        predictor.predict(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError, match="no file matches the pattern"):
        predictor.predict(str(tmp_path / "*.jpg"))
    with pytest.raises(TypeError, match="unsupported source of type dict"):
        list(iter_source({"a": 1}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch must be at least 1"):
        predictor.predict(_image(), batch=0)
    pytest.importorskip("av")
    with pytest.raises(ValueError, match=r"cannot open stream rtsp://127\.0\.0\.1:9/none"):
        predictor.predict("rtsp://127.0.0.1:9/none")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot decode image"):
        predictor.predict(tmp_path / "broken.png")
    skipped: list[Path] = []
    results = predictor.predict(
        [tmp_path / "broken.png", _image()], on_bad=lambda p, e: skipped.append(p)
    )
    assert skipped == [tmp_path / "broken.png"] and [r.name for r in results] == ["image"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images or videos"):
        predictor.predict(tmp_path / "empty")


def test_load_refuses_what_it_cannot_load(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; pass a run folder"):
        ffseg.load(tmp_path / "nothing")
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(ValueError, match=r"unknown file type '\.txt'"):
        ffseg.load(tmp_path / "model.txt")
    (tmp_path / "weights.pth").write_bytes(b"")
    with pytest.raises(ValueError, match="needs its architecture"):
        ffseg.load(tmp_path / "weights.pth")


@pytest.mark.slow
def test_onnx_export_loads_and_serves_the_same_masks(
    predictor: Predictor, model_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from ffseg.deploy.export import export_onnx

    path = tmp_path / "fssnet.onnx"
    export_onnx(ffseg.load_model(model_dir).eval(), path, (32, 48), dynamo=False)
    onnx = ffseg.load(path, threads=1)
    assert onnx.backend == "onnxruntime" and onnx.info()["input_size"] == [32, 48]
    image = _image()
    (result,) = onnx.predict(image)
    same_size = ffseg.load(model_dir, size=(32, 48))  # the size the static ONNX runs at
    agreement = (result.mask == same_size.predict(image)[0].mask).float().mean().item()
    assert result.mask.shape == (32, 48) and agreement > 0.99


@pytest.mark.parametrize("fmt", ["torchscript", "openvino"])
def test_every_exported_file_loads_with_its_backend(
    predictor: Predictor, model_dir: Path, tmp_path: Path, fmt: str
) -> None:
    """``ffseg.load`` takes what ``ffseg export`` writes beyond ONNX, names the runtime, and
    gives the masks of the PyTorch model at the exported size."""
    if fmt == "openvino":
        pytest.importorskip("openvino")
    from ffseg.deploy.export import export_model

    path = tmp_path / ("fssnet.xml" if fmt == "openvino" else "fssnet.ts")
    export_model(ffseg.load_model(model_dir).eval(), path, (32, 48))
    loaded = ffseg.load(path, threads=1)
    assert loaded.backend == fmt and loaded.classes == predictor.classes
    image = _image()
    (result,) = loaded.predict(image)
    reference = ffseg.load(model_dir, size=(32, 48)).predict(image)[0].mask
    assert (result.mask == reference).float().mean().item() > 0.99
