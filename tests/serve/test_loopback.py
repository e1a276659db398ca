"""A real uvicorn server on 127.0.0.1: a bounded burst of concurrent clients, zero errors, and
the server stops by itself."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from ffseg.inference.results import Predictor  # noqa: E402
from ffseg.serve.app import ServeConfig, create_app  # noqa: E402

REQUESTS, CLIENTS = 24, 6


async def _burst(url: str, body: bytes) -> list[int]:
    limit = asyncio.Semaphore(CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one() -> int:
            async with limit:
                response = await client.post("/predict?format=json", content=body)
                return response.status_code

        return await asyncio.gather(*(one() for _ in range(REQUESTS)))


def test_uvicorn_on_loopback_answers_a_burst_without_errors(predictor: Predictor) -> None:
    app = create_app(predictor, ServeConfig(max_batch=8, max_wait_ms=10))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start within 30 s"
        buffer = io.BytesIO()
        Image.fromarray(np.full((32, 32, 3), 127, np.uint8)).save(buffer, format="PNG")
        codes = asyncio.run(_burst(f"http://127.0.0.1:{port}", buffer.getvalue()))
        assert codes == [200] * REQUESTS
        assert app.state.batcher.batches < REQUESTS  # concurrent requests were batched
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    assert not thread.is_alive()
