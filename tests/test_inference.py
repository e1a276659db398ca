"""Segmenter, palettes, overlays and video, on a small FFNet and real CamVid images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ffseg
from ffseg.classes import (
    CAMVID_PALETTE,
    CITYSCAPES_PALETTE,
    generate_palette,
    get_palette,
    palette_for,
)
from ffseg.deploy.export import export_onnx
from ffseg.deploy.fuse import prepare_for_inference
from ffseg.engine.evaluate import InferenceSpec, predict_scores
from ffseg.inference import Segmenter, iter_video_frames, load_image, segment_video
from ffseg.viz import colorize, overlay


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = ffseg.create_model("ffnet40s_bbb_mobile", num_classes=11, init="kaiming").eval()
    model.pretrained_cfg = model.pretrained_cfg.replace(input_size=(3, 64, 96))  # fast to run
    return model


@pytest.fixture(scope="module")
def segmenter(model: torch.nn.Module) -> Segmenter:
    return Segmenter(model)


def _image(h: int = 72, w: int = 100, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_mask_at_input_size_for_every_input_type(segmenter: Segmenter, tmp_path: Path) -> None:
    array = _image()
    path = tmp_path / "img.png"
    Image.fromarray(array).save(path)
    expected = segmenter(array, return_probs=True)
    assert expected.mask.shape == (72, 100) and expected.mask.dtype == torch.int64
    assert expected.probs is not None and expected.probs.shape == (11, 72, 100)
    torch.testing.assert_close(expected.probs.sum(0), torch.ones(72, 100))
    assert torch.equal(expected.mask, expected.probs.argmax(0))
    as_tensor = torch.from_numpy(array).permute(2, 0, 1)
    for source in (path, str(path), Image.fromarray(array), as_tensor, as_tensor.float() / 255):
        assert torch.equal(segmenter(source).mask, expected.mask)
    batch = segmenter(torch.stack([as_tensor, as_tensor]))
    assert len(batch) == 2 and all(torch.equal(r.mask, expected.mask) for r in batch)


def test_whole_mode_matches_manual_pipeline(model: torch.nn.Module) -> None:
    array = _image(64, 96)
    cfg = model.pretrained_cfg
    x = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(cfg.mean).view(1, 3, 1, 1)) / torch.tensor(cfg.std).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = torch.nn.functional.interpolate(model(x), (64, 96), mode="bilinear")
    agree = (Segmenter(model)(array).mask == logits.argmax(1)[0]).float().mean()
    assert agree > 0.999


def test_slide_multiscale_flip(model: torch.nn.Module) -> None:
    array = _image(80, 120)
    seg = Segmenter(model, mode="slide", crop_size=(64, 64), stride=(32, 48), flip=True)
    slide = seg(array, return_probs=True)
    assert slide.mask.shape == (80, 120)
    torch.testing.assert_close(slide.probs.sum(0), torch.ones(80, 120))
    array = _image(96, 128)
    multi = Segmenter(model, scales=(0.75, 1.0, 1.25), flip=True, size=(96, 128))(array)
    assert multi.mask.shape == (96, 128)
    whole = Segmenter(model, size=(96, 128))(array)
    assert (multi.mask == whole.mask).float().mean() > 0.3  # same model, related predictions


def test_segmenter_runs_the_evaluator_inference(model: torch.nn.Module) -> None:
    """Segmenter and evaluation share one sliding-window / TTA implementation."""
    array = _image(80, 120)
    spec = InferenceSpec("slide", crop_size=(64, 64), stride=(32, 48), scales=(1.0, 0.75))
    seg = Segmenter(model, mode="slide", crop_size=(64, 64), stride=(32, 48), scales=(1.0, 0.75))
    assert seg.spec == spec
    cfg = model.pretrained_cfg
    x = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255
    x = (x - torch.tensor(cfg.mean).view(1, 3, 1, 1)) / torch.tensor(cfg.std).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = predict_scores(prepare_for_inference(model), x, (80, 120), spec)[0]
    torch.testing.assert_close(seg(array, return_probs=True).probs, expected, atol=1e-4, rtol=1e-4)


def test_bf16_segmenter_agrees(model: torch.nn.Module, camvid_root: Path) -> None:
    image = camvid_root / "val" / sorted(p.name for p in (camvid_root / "val").iterdir())[0]
    fp32 = Segmenter(model, size=(180, 240))(image)
    bf16 = Segmenter(model, size=(180, 240), dtype=torch.bfloat16, channels_last=True)(image)
    assert fp32.mask.shape == (360, 480)
    assert (fp32.mask == bf16.mask).float().mean() > 0.9


def test_onnx_segmenter_matches_torch(model: torch.nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    export_onnx(model, path, (64, 96))
    array = _image(64, 96)
    torch_mask = Segmenter(model)(array).mask
    onnx_mask = Segmenter.from_onnx(path)(array).mask
    assert (onnx_mask == torch_mask).float().mean() > 0.999
    export_onnx(model, tmp_path / "a.onnx", (64, 96), output="argmax", resize_to_input=True)
    labels = Segmenter.from_onnx(tmp_path / "a.onnx")(array).mask
    assert (labels == torch_mask).float().mean() > 0.99


def test_palettes_colorize_overlay() -> None:
    assert get_palette("cityscapes") == list(CITYSCAPES_PALETTE)
    assert get_palette("CamVid") == list(CAMVID_PALETTE)
    generated = generate_palette(30)
    assert len(set(generated)) == 30 and get_palette(30) == list(generated)
    with pytest.raises(ValueError, match="unknown palette"):
        get_palette("pascal")
    cfg = ffseg.create_model("ffnet40s_bbb_mobile").pretrained_cfg
    assert palette_for(cfg) == list(CITYSCAPES_PALETTE)
    assert len(palette_for(cfg, 7)) == 7
    mask = np.array([[0, 1], [255, 2]])
    colours = np.asarray(colorize(mask, CAMVID_PALETTE))
    assert tuple(colours[0, 0]) == CAMVID_PALETTE[0] and tuple(colours[1, 0]) == (0, 0, 0)
    image = np.full((2, 2, 3), 200, np.uint8)
    blended = np.asarray(overlay(image, mask, CAMVID_PALETTE, alpha=0.5)).astype(int)
    expected = (200 + np.asarray(CAMVID_PALETTE[1])) / 2
    assert np.abs(blended[0, 1] - expected).max() <= 1


def test_result_save_is_atomic_png(segmenter: Segmenter, tmp_path: Path) -> None:
    result = segmenter(_image())
    for kind in ("mask", "color", "overlay"):
        out = result.save(tmp_path / f"{kind}.png", kind)
        assert Image.open(out).size == (100, 72)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "mask.png")), result.mask.numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["color.png", "mask.png", "overlay.png"]


def test_bad_inputs(segmenter: Segmenter, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        segmenter(tmp_path / "missing.png")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match=r"cannot decode image .*corrupt\.png"):
        segmenter(corrupt)
    with pytest.raises(ValueError, match="smaller than the minimum"):
        Segmenter(segmenter.model, size=(8, 8))(_image(8, 8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        load_image(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="mode"):
        Segmenter(segmenter.model, mode="tiles")
    with pytest.raises(FileNotFoundError, match="sidecar"):
        onnx = tmp_path / "x.onnx"
        onnx.write_bytes(b"")
        Segmenter.from_onnx(onnx)


def _write_video(path: Path, frames: int = 4, h: int = 64, w: int = 96) -> None:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(_image(h, w, seed=i), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_video_round_trip(segmenter: Segmenter, tmp_path: Path) -> None:
    pytest.importorskip("av")
    source = tmp_path / "in.mp4"
    _write_video(source)
    out = tmp_path / "out" / "seg.mp4"
    latencies = segment_video(segmenter, source, out)
    assert len(latencies) == 4 and all(t > 0 for t in latencies)
    frames = list(iter_video_frames(out))
    assert len(frames) == 4 and frames[0].shape == (64, 96, 3)
    assert sorted(p.name for p in out.parent.iterdir()) == ["seg.mp4"]  # no temp file left


def test_unreadable_video(segmenter: Segmenter, tmp_path: Path) -> None:
    pytest.importorskip("av")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"definitely not a video")
    with pytest.raises(ValueError, match=r"cannot open video .*bad\.mp4"):
        segment_video(segmenter, bad, tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()
