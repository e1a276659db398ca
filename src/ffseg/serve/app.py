"""The prediction server: a FastAPI app around a :class:`~ffseg.inference.results.Predictor`.

``POST /predict`` takes an image (the raw request body, or the ``file`` field of a multipart
form) and answers ``?format=mask`` (the label mask as a greyscale PNG, pixel value = class
index), ``overlay`` (the image blended with the colour mask, PNG; ``&alpha=0.5``) or ``json``
(class areas). ``GET /health`` and ``GET /model`` describe the server and the model.

Requests are checked before any work: too many bytes or pixels is a 413 (the pixel count is
read from the image header, so a decompression bomb is never decoded), a content type that is
not an image a 415, an undecodable image or a bad parameter a 422, a full queue a 503, a
prediction slower than the timeout a 504; each with a one-line ``detail``. Masks come from the
same :class:`~ffseg.inference.segmenter.Segmenter` as ``ffseg predict``.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile

from ffseg.inference.images import load_image
from ffseg.inference.results import Predictor, load
from ffseg.inference.segmenter import SegResult
from ffseg.serve.batching import DynamicBatcher, QueueFullError

__all__ = [
    "ENV_CONFIG",
    "FORMATS",
    "IMAGE_TYPES",
    "SWITCH_INTERVAL_S",
    "ServeConfig",
    "app_from_env",
    "create_app",
]

log = logging.getLogger(__name__)

#: The response formats of ``POST /predict?format=...``.
FORMATS = ("mask", "overlay", "json")
#: Content types accepted as an image (an empty one too: raw bytes without a header).
IMAGE_TYPES = {
    "image/png",
    "image/jpeg",
    "image/jpg",
    "image/webp",
    "image/bmp",
    "image/x-ms-bmp",
    "image/tiff",
    "image/gif",
    "application/octet-stream",
    "",
}
#: Python's thread switch interval in a server process (default 5 ms): the model's thread
#: hands the interpreter to the request handlers often, so requests keep flowing into the queue
#: while a batch runs.
SWITCH_INTERVAL_S = 0.0005
#: Environment variable through which ``ffseg serve --workers N`` hands its settings to each
#: worker process (uvicorn starts them with :func:`app_from_env`).
ENV_CONFIG = "FFSEG_SERVE_CONFIG"


@dataclass
class ServeConfig:
    """Server limits: batching, queue, request size, pixels, timeout (seconds)."""

    max_batch: int = 8
    max_wait_ms: float = 20.0
    queue_size: int = 64
    max_bytes: int = 16 * 2**20
    max_pixels: int = 4096 * 4096
    timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_batch", "queue_size", "max_bytes", "max_pixels"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0 or self.timeout <= 0:
            raise ValueError(
                f"max_wait_ms must be >= 0 and timeout > 0, got {self.max_wait_ms}, {self.timeout}"
            )


def _reject(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``max_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _reject(413, f"request of {declared} bytes exceeds the limit of {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _reject(413, f"request exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _multipart_file(request: Request, body: bytes) -> bytes:
    """The bytes of the multipart form's ``file`` field (or its only file)."""

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form()
    except Exception as exc:
        raise _reject(422, f"malformed multipart form: {exc}") from exc
    files = [v for v in form.values() if isinstance(v, UploadFile)]
    upload = form.get("file") if isinstance(form.get("file"), UploadFile) else None
    upload = upload or (files[0] if len(files) == 1 else None)
    if upload is None:
        raise _reject(422, "multipart request needs one image in a field named 'file'")
    kind = (upload.content_type or "").split(";")[0].strip().lower()
    if kind not in IMAGE_TYPES:
        raise _reject(415, f"unsupported media type {kind!r} of the 'file' field; send an image")
    return await upload.read()


async def _image_bytes(request: Request, max_bytes: int) -> bytes:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data" and kind not in IMAGE_TYPES:
        raise _reject(
            415, f"unsupported media type {kind!r}; send image bytes (image/png, image/jpeg, ...)"
        )
    body = await _read_body(request, max_bytes)
    data = await _multipart_file(request, body) if kind == "multipart/form-data" else body
    if not data:
        raise _reject(422, "empty image: send the image's bytes as the request body")
    return data


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """An RGB ``uint8`` array from encoded bytes; 413 above ``max_pixels``, 422 if undecodable.

    The size is read from the header before any pixel is decoded.
    """
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise _reject(413, f"image too large: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _reject(422, f"cannot decode the image: {exc}") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise _reject(
            413, f"image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels"
        )
    try:
        return load_image(image)
    except Image.DecompressionBombError as exc:
        raise _reject(413, f"image too large: {exc}") from exc
    except Exception as exc:  # truncated or corrupt data surfaces only when decoding
        raise _reject(422, f"cannot decode the image: {exc}") from exc


def _params(request: Request) -> tuple[str, float]:
    query = request.query_params
    unknown = sorted(set(query) - {"format", "alpha"})
    if unknown:
        raise _reject(422, f"unknown query parameter {unknown[0]!r}; use format and alpha")
    fmt = query.get("format", "mask").lower()
    if fmt not in FORMATS:
        raise _reject(422, f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    try:
        alpha = float(query.get("alpha", "0.5"))
    except ValueError:
        alpha = float("nan")
    if not 0.0 <= alpha <= 1.0:
        raise _reject(422, f"alpha must be a number in [0, 1]; got {query.get('alpha')!r}")
    return fmt, alpha


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def render(result: SegResult, fmt: str, alpha: float, model: str) -> Response:
    """The response body of one prediction in ``fmt`` (see :data:`FORMATS`)."""
    headers = {"X-Inference-Ms": f"{result.latency_ms:.2f}"}
    if fmt == "json":
        height, width = result.mask.shape
        body = {
            "model": model,
            "height": int(height),
            "width": int(width),
            "areas": result.areas(),
            "latency_ms": round(result.latency_ms, 3),
        }
        return JSONResponse(body, headers=headers)
    if fmt == "overlay":
        return Response(_png(result.overlay(alpha)), media_type="image/png", headers=headers)
    mask = result.mask.numpy()
    image = Image.fromarray(mask.astype(np.uint8 if mask.max(initial=0) < 256 else np.uint16))
    return Response(_png(image), media_type="image/png", headers=headers)


def create_app(predictor: Predictor, config: ServeConfig | None = None) -> FastAPI:
    """The FastAPI app serving ``predictor`` with the limits of ``config``."""
    config = config or ServeConfig()
    batcher: DynamicBatcher[np.ndarray, SegResult] = DynamicBatcher(
        predictor.predict_images,
        max_batch=config.max_batch,
        max_wait_ms=config.max_wait_ms,
        queue_size=config.queue_size,
        key=lambda image: image.shape,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await batcher.close()

    app = FastAPI(
        title="ffseg", summary=f"semantic segmentation: {predictor.name}", lifespan=lifespan
    )
    app.state.predictor, app.state.config, app.state.batcher = predictor, config, batcher

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error while serving a request")
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, 500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "queued": batcher.waiting,
            "queue_size": config.queue_size,
            "batches": batcher.batches,
            "images": batcher.items,
        }

    @app.get("/model")
    async def model() -> dict[str, Any]:
        return {**predictor.info(), "serve": asdict(config)}

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        fmt, alpha = _params(request)
        with batcher.incoming():
            data = await _image_bytes(request, config.max_bytes)
            image = await asyncio.to_thread(decode_image, data, config.max_pixels)
        try:
            result = await asyncio.wait_for(batcher.submit(image), config.timeout)
        except QueueFullError as exc:
            detail = f"server busy: {exc}; retry later"
            raise HTTPException(503, detail, {"Retry-After": "1"}) from None
        except asyncio.TimeoutError:
            detail = f"prediction took longer than the {config.timeout:g} s timeout"
            raise _reject(504, detail) from None
        except ValueError as exc:  # e.g. an image below the model's minimum size
            raise _reject(422, str(exc).splitlines()[0] if str(exc) else "bad image") from exc
        return await asyncio.to_thread(render, result, fmt, alpha, predictor.name)

    return app


def app_from_env() -> FastAPI:
    """The app of one worker process of ``ffseg serve --workers N`` (settings in :data:`ENV_CONFIG`)."""
    settings = json.loads(os.environ[ENV_CONFIG])
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    threads = settings.get("load", {}).get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    options = {  # JSON turned the tuples (scales, sizes) into lists
        key: tuple(value) if isinstance(value, list) else value
        for key, value in settings.get("load", {}).items()
    }
    predictor = load(settings["model"], **options)
    return create_app(predictor, ServeConfig(**settings.get("serve", {})))
