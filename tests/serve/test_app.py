"""The prediction server through FastAPI's TestClient / httpx: every response type, batching,
and each refusal (413, 415, 422, 503, 504) with its one-line reason."""

from __future__ import annotations

import asyncio
import io
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
pytest.importorskip("multipart")
from fastapi.testclient import TestClient  # noqa: E402

import ffseg  # noqa: E402
from ffseg.inference import Segmenter  # noqa: E402
from ffseg.inference.results import Predictor  # noqa: E402
from ffseg.serve.app import ServeConfig, create_app  # noqa: E402


def _image(h: int = 32, w: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _decode(content: bytes) -> Image.Image:
    return Image.open(io.BytesIO(content))


@pytest.fixture(scope="module")
def client(predictor: Predictor) -> TestClient:
    return TestClient(create_app(predictor), raise_server_exceptions=False)


def test_mask_overlay_and_json_round_trips_match_predict(
    client: TestClient, model_dir: Path
) -> None:
    image = _image()
    expected = Segmenter(ffseg.load_model(model_dir), size=(32, 48))(image)  # = `ffseg predict`
    mask = client.post("/predict", content=_png(image), headers={"content-type": "image/png"})
    assert mask.status_code == 200 and mask.headers["content-type"] == "image/png"
    served = _decode(mask.content)
    assert served.mode == "L" and served.size == (48, 32)
    assert np.array_equal(np.asarray(served), expected.mask.numpy())
    overlay = client.post("/predict?format=overlay&alpha=0.3", content=_png(image))
    assert overlay.status_code == 200
    assert np.array_equal(np.asarray(_decode(overlay.content)), np.asarray(expected.overlay(0.3)))
    answer = client.post("/predict?format=json", content=_png(image))
    assert answer.status_code == 200
    body = answer.json()
    assert (body["height"], body["width"], body["model"]) == (32, 48, "fssnet")
    assert body["areas"] == pytest.approx(expected.areas())
    assert sum(body["areas"].values()) == pytest.approx(1.0)


def test_multipart_upload_and_jpeg(client: TestClient) -> None:
    image = _image(seed=1)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG")
    files = {"file": ("photo.jpg", buffer.getvalue(), "image/jpeg")}
    response = client.post("/predict", files=files)
    assert response.status_code == 200
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    expected = client.post("/predict", content=_png(decoded)).content
    assert np.array_equal(np.asarray(_decode(response.content)), np.asarray(_decode(expected)))


def test_health_and_model(client: TestClient, predictor: Predictor) -> None:
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/model").json()
    assert info["name"] == "fssnet" and len(info["classes"]) == len(info["palette"]) == 5
    assert info["input_size"] == list(predictor.input_size)
    assert info["backend"] == "torch (cpu)" and info["serve"]["max_batch"] == 8


def _bomb_png(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims ``width`` x ``height`` pixels."""
    data = bytearray(_png(np.zeros((1, 1, 3), np.uint8)))
    ihdr = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return bytes(data)


@pytest.mark.parametrize(
    ("body", "headers", "query", "status", "reason"),
    [
        (b"x" * 2000, {}, "", 413, "exceeds the limit of 1000 bytes"),
        (_bomb_png(30000, 30000), {}, "", 413, "too large"),  # PIL's own bomb check
        (_bomb_png(100, 100), {}, "", 413, "exceeds the limit of 5000 pixels"),
        (b"hello", {"content-type": "text/plain"}, "", 415, "unsupported media type 'text/plain'"),
        (b"not an image", {}, "", 422, "cannot decode the image"),
        (b"", {}, "", 422, "empty image"),
        (None, {}, "?format=svg", 422, "format must be one of mask, overlay, json"),
        (None, {}, "?alpha=2", 422, "alpha must be a number in [0, 1]"),
        (None, {}, "?colour=red", 422, "unknown query parameter 'colour'"),
    ],
)
def test_bad_requests_get_a_4xx_with_one_line(
    predictor: Predictor,
    body: bytes | None,
    headers: dict[str, str],
    query: str,
    status: int,
    reason: str,
) -> None:
    app = create_app(predictor, ServeConfig(max_bytes=1000, max_pixels=5000))
    client = TestClient(app, raise_server_exceptions=False)
    content = _png(_image(8, 8)) if body is None else body
    response = client.post(f"/predict{query}", content=content, headers=headers)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert reason in detail and "\n" not in detail
    assert client.get("/health").status_code == 200  # the server lives on


def test_multipart_without_an_image_is_refused(client: TestClient) -> None:
    text = client.post("/predict", files={"file": ("a.txt", b"hi", "text/plain")})
    assert text.status_code == 415 and "'file' field" in text.json()["detail"]
    two = {"a": ("a.png", b"1", "image/png"), "b": ("b.png", b"2", "image/png")}
    unnamed = client.post("/predict", files=two)
    assert unnamed.status_code == 422 and "field named 'file'" in unnamed.json()["detail"]
    form = client.post("/predict", data={"name": "x"})  # url-encoded form, no image
    assert form.status_code == 415


class _Gated:
    """A predictor whose batches wait for ``gate`` (or fail once ``fail`` is set)."""

    def __init__(self, inner: Predictor) -> None:
        self.inner, self.name = inner, inner.name
        self.gate, self.fail = threading.Event(), False
        self.batch_sizes: list[int] = []

    def info(self) -> dict[str, Any]:
        return self.inner.info()

    def predict_images(self, images: list[np.ndarray]) -> list[Any]:
        self.batch_sizes.append(len(images))
        if self.fail:
            raise RuntimeError("the model broke")
        self.gate.wait(10)
        return self.inner.predict_images(images)


async def _post_many(app: Any, bodies: list[bytes], query: str = "") -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
        return await asyncio.gather(*(client.post(f"/predict{query}", content=b) for b in bodies))


def test_batched_masks_equal_single_image_masks(predictor: Predictor) -> None:
    gated = _Gated(predictor)
    app = create_app(gated, ServeConfig(max_batch=4, max_wait_ms=200))  # type: ignore[arg-type]
    images = [_image(seed=i) for i in range(6)] + [_image(40, 48, seed=9)]
    gated.gate.set()
    responses = asyncio.run(_post_many(app, [_png(i) for i in images]))
    assert [r.status_code for r in responses] == [200] * 7
    assert max(gated.batch_sizes) > 1 and sum(gated.batch_sizes) == 7
    for image, response in zip(images, responses):
        single = predictor.predict(image)[0].mask.numpy()
        assert np.array_equal(np.asarray(_decode(response.content)), single)


@pytest.mark.slow
def test_full_queue_is_503_timeout_504_and_a_model_error_500(predictor: Predictor) -> None:
    gated = _Gated(predictor)
    config = ServeConfig(max_batch=1, max_wait_ms=0, queue_size=1, timeout=120.0)
    app = create_app(gated, config)  # type: ignore[arg-type]

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
            body = _png(_image())
            first = asyncio.ensure_future(client.post("/predict", content=body))
            await asyncio.sleep(0.3)  # running: blocked on the gate
            second = asyncio.ensure_future(client.post("/predict", content=body))
            await asyncio.sleep(0.3)  # waiting in the queue
            refused = await client.post("/predict", content=body)
            gated.gate.set()
            return [refused, await first, await second]

    refused, first, second = asyncio.run(main())
    assert refused.status_code == 503 and "queue is full" in refused.json()["detail"]
    assert refused.headers["retry-after"] == "1"
    assert first.status_code == second.status_code == 200

    slow = _Gated(predictor)
    app = create_app(slow, ServeConfig(timeout=0.2))  # type: ignore[arg-type]
    client = TestClient(app, raise_server_exceptions=False)
    late = client.post("/predict", content=_png(_image()))
    assert late.status_code == 504 and "0.2 s timeout" in late.json()["detail"]
    slow.gate.set()
    slow.fail = True
    broken = client.post("/predict", content=_png(_image()))
    assert broken.status_code == 500 and "the model broke" in broken.json()["detail"]
    slow.fail = False
    assert client.post("/predict", content=_png(_image())).status_code == 200


def test_bad_server_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch must be at least 1"):
        ServeConfig(max_batch=0)
    with pytest.raises(ValueError, match="timeout"):
        ServeConfig(timeout=0)


def test_truncated_png_is_422_and_gif_is_an_image(client: TestClient) -> None:
    data = _png(_image())
    truncated = client.post("/predict", content=data[: len(data) // 2])
    assert truncated.status_code == 422 and "cannot decode the image" in truncated.json()["detail"]
    buffer = io.BytesIO()
    Image.fromarray(_image()).save(buffer, format="GIF")
    gif = client.post("/predict", content=buffer.getvalue(), headers={"content-type": "image/gif"})
    assert gif.status_code == 200 and _decode(gif.content).size == (48, 32)
