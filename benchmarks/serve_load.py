"""Load figures of ``ffseg serve``: requests/s and latency percentiles on loopback.

Starts ``ffseg serve`` twice in a subprocess (dynamic batching on: ``--max-batch 16``; off:
``--max-batch 1``), drives each with 1, 4, 16 and 64 concurrent asyncio + httpx clients posting
one PNG, each level bounded by a request count and a time limit, and writes
``docs/benchmarks/serve.md``: requests/s, p50/p95/p99 latency and errors per level, next to the
model's single-image ``bench`` latency (eager fp32, batch 1) measured on the same machine.

    python benchmarks/serve_load.py --model ddrnet23_slim --size 64 64 --requests 200 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

import ffseg
from ffseg.deploy.bench import benchmark_model, machine_info

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import load_note

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "serve.md"


@dataclass
class Level:
    batching: str
    clients: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    p50: float = float("nan")
    p95: float = float("nan")
    p99: float = float("nan")
    mean_batch: float = float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else float("nan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _png(size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


async def _drive(url: str, body: bytes, clients: int, requests: int, seconds: float) -> Level:
    """``clients`` loops posting ``body`` until ``requests`` are sent or ``seconds`` pass."""
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            nonlocal sent, errors
            while sent < requests and time.perf_counter() < stop:
                sent += 1
                start = time.perf_counter()
                try:
                    response = await client.post(
                        "/predict", content=body, headers={"content-type": "image/png"}
                    )
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - start) * 1000.0)
                else:
                    errors += 1

        begin = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - begin
    level = Level("", clients, len(latencies), errors, wall)
    if latencies:
        level.p50, level.p95, level.p99 = (float(np.percentile(latencies, q)) for q in (50, 95, 99))
    return level


def _serve(model: Path, port: int, max_batch: int, args: argparse.Namespace) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "ffseg", "serve", str(model), "--port", str(port),
        "--max-batch", str(max_batch), "--max-wait-ms", str(args.max_wait_ms),
        "--queue-size", "256", "--device", "cpu",
    ]  # fmt: skip
    if args.threads:
        command += ["--threads", str(args.threads)]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ}
    )


def _wait_up(url: str, server: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"ffseg serve exited: {server.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"ffseg serve did not answer {url}/health within {timeout:.0f} s")


@contextmanager
def _server(model: Path, max_batch: int, args: argparse.Namespace) -> Iterator[str]:
    """A running ``ffseg serve`` (warmed up with every batch size once); yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(model, port, max_batch, args)
    try:
        _wait_up(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def run_levels(model: Path, body: bytes, args: argparse.Namespace) -> list[Level]:
    """Both servers up at once; each client count runs batching off then on, back to back, so
    that both see the same background load."""
    modes = {"off": 1, "on (max 16)": 16}
    levels: list[Level] = []
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(_server(model, mb, args)) for name, mb in modes.items()}
        for url in urls.values():
            asyncio.run(_drive(url, body, 16, 48, 60))  # warm-up: batch sizes and threads
        for clients in args.clients:
            for name, url in urls.items():
                before = httpx.get(f"{url}/health").json()
                level = asyncio.run(_drive(url, body, clients, args.requests, args.seconds))
                after = httpx.get(f"{url}/health").json()
                batches = after["batches"] - before["batches"]
                level.mean_batch = (after["images"] - before["images"]) / max(1, batches)
                level.batching = name
                print(
                    f"batching {name:>12} clients {clients:3d}: {level.rps:7.1f} req/s, "
                    f"p50 {level.p50:7.1f} ms, p99 {level.p99:7.1f} ms, errors {level.errors}, "
                    f"mean batch {level.mean_batch:.1f}",
                    flush=True,
                )
                levels.append(level)
    return levels


def write_doc(levels: list[Level], bench: dict[int, float], args: argparse.Namespace) -> None:
    info = machine_info(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    versions = ", ".join(
        f"{p} {version(p)}" for p in ("fastapi", "uvicorn", "starlette", "httpx", "pillow")
    )
    rows = [
        f"| {lv.batching} | {lv.clients} | {lv.requests} | {lv.errors} | {lv.rps:.1f} | "
        f"{lv.p50:.1f} | {lv.p95:.1f} | {lv.p99:.1f} | {lv.mean_batch:.1f} |"
        for lv in levels
    ]
    on = {lv.clients: lv for lv in levels if lv.batching != "off"}
    off = {lv.clients: lv for lv in levels if lv.batching == "off"}
    verdict = []
    if 16 in on and 16 in off:
        ratio = on[16].rps / off[16].rps
        tail = on[16].p99 / on[16].p50
        errors = sum(lv.errors for lv in levels)
        verdict = [
            f"- 16 clients, batching on vs off: **{ratio:.2f}x** the requests/s (target >= 1.5x)",
            f"- 16 clients, batching on: p99 / p50 = **{tail:.2f}** (target <= 3)",
            f"- errors over every level: **{errors}** (target 0)",
        ]
    h, w = args.size
    command = "python benchmarks/serve_load.py " + " ".join(map(shlex.quote, sys.argv[1:]))
    text = f"""# Serving benchmark (`ffseg serve`)

Written by `benchmarks/serve_load.py`: `ffseg serve` runs in its own processes on 127.0.0.1
(one with batching, one without, both up during the whole run);
asyncio + httpx clients in a second process post one {h}x{w} PNG to `POST /predict`
(label-mask PNG answers) as fast as they get answers. Each level stops after
{args.requests} requests or {args.seconds:g} s. Batching on: `--max-batch 16 --max-wait-ms
{args.max_wait_ms:g}`; off: `--max-batch 1`; each client count runs off then on, back to back. Latency is the client's, from sending the request
to the complete answer (HTTP, PNG decode, queueing, inference, PNG encode).

{load_note(load, info["cpu_count"], "absolute figures are pessimistic and noisy; the on/off pairs were measured back to back.")}
The clients' process shares the cores with the server.

- command: `{command}`
- model: `{args.model}` ({args.num_classes} classes, random weights: speed does not depend
  on them; native input size set to {h}x{w}, the size the server runs images at), CPU, fp32,
  {info["threads"]} torch thread(s) in the server
- machine: {info["cpu"]}, {info["cpu_count"]} logical cores, {platform.system()}
  {platform.release()}
- versions: python {info["python"]}, ffseg {info["ffseg"]}, torch {info["torch"]}, {versions}
- single-image `bench` latency of the model at {h}x{w} (eager fp32, batch 1, in-process, no
  HTTP): **{bench[1]:.1f} ms** median ({1000 / bench[1]:.0f} images/s); batch 16:
  {bench[16]:.1f} ms ({16000 / bench[16]:.0f} images/s)

| batching | clients | requests | errors | requests/s | p50 ms | p95 ms | p99 ms | mean batch |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

{chr(10).join(verdict)}

Mean batch is the images per model call (from `GET /health`). Batching can only raise
requests/s where the model's time dominates a request; where the per-request work around it
(HTTP, decoding, encoding, the clients themselves on the same cores) dominates, both modes
run at about the same rate and the mean batch stays below the number of clients, because most
requests are then on their way to the queue rather than in it.
"""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, DOC)
    print(f"wrote {DOC}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="ddrnet23_slim", help="registered model (random weights)"
    )
    parser.add_argument("--num-classes", type=int, default=11)
    parser.add_argument("--size", nargs=2, type=int, default=(64, 64), metavar=("H", "W"))
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 4, 16, 64])
    parser.add_argument("--requests", type=int, default=200, help="most requests per level")
    parser.add_argument("--seconds", type=float, default=15.0, help="longest time per level")
    parser.add_argument("--max-wait-ms", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the server")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = ffseg.create_model(args.model, num_classes=args.num_classes).eval()
    size = tuple(args.size)
    # the server runs images at the model's native size (as predict and val do): make that
    # --size, so the server runs what bench times instead of upscaling to the default 1024x2048
    model.pretrained_cfg = model.pretrained_cfg.replace(input_size=(3, *size))
    bench = {
        batch: benchmark_model(
            model, size, batch=batch, backends=("eager",), precisions=("fp32",), runs=30,
            threads=args.threads,
        )[0].median_ms
        for batch in (1, 16)
    }  # fmt: skip
    print(f"bench: batch 1 {bench[1]:.1f} ms, batch 16 {bench[16]:.1f} ms", flush=True)
    body = _png(size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / args.model
        ffseg.save_pretrained(model, folder)
        levels = run_levels(folder, body, args)
    write_doc(levels, bench, args)


if __name__ == "__main__":
    main()
