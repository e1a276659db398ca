"""``ffseg serve MODEL``: a prediction server with dynamic batching (the ``serve`` extra)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict

from ffseg.cli._args import (
    add_device_args,
    add_inference_args,
    add_precision_arg,
    device_from_args,
    int_in,
    nonneg_float,
    positive_float,
    positive_int,
    segmenter_options,
)
from ffseg.deploy.extras import require_extra
from ffseg.deploy.runtime import torch_threads

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve a model over HTTP with dynamic batching")
    p.add_argument(
        "MODEL", help="a run folder, a save_pretrained folder, an exported .onnx or a checkpoint"
    )
    p.add_argument("--model", help="the architecture of a bare checkpoint file MODEL")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: all)")
    p.add_argument("--port", type=int_in(1, 65535), default=8000, help="TCP port")
    p.add_argument(
        "--max-batch", type=positive_int, default=8, help="most images per batch (1: off)"
    )
    p.add_argument(
        "--max-wait-ms",
        type=nonneg_float,
        default=20.0,
        help="how long a batch may wait for requests still being read (none: it starts at once)",
    )
    p.add_argument(
        "--queue-size", type=positive_int, default=64, help="requests waiting before 503 answers"
    )
    p.add_argument(
        "--max-bytes",
        type=positive_int,
        default=16 * 2**20,
        help="largest request body (413 beyond)",
    )
    p.add_argument(
        "--max-pixels",
        type=positive_int,
        default=4096 * 4096,
        help="largest image in pixels (413 beyond)",
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        help="seconds a prediction may take (504 beyond)",
    )
    p.add_argument(
        "--workers", type=positive_int, default=1, help="server processes, each with its own model"
    )
    add_inference_args(
        p,
        "network input size: the window with --mode slide (default: the model's native size); "
        "with --mode whole images are resized to it (default: their own size)",
    )
    p.add_argument(
        "--resize",
        nargs=2,
        type=positive_int,
        metavar=("H", "W"),
        help="resize every image to H W first, in any mode (default: no resize)",
    )
    add_device_args(p)
    add_precision_arg(p)
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    require_extra("serve", "fastapi", "uvicorn", purpose="ffseg serve")
    import uvicorn

    from ffseg.inference.results import load
    from ffseg.serve.app import ENV_CONFIG, SWITCH_INTERVAL_S, ServeConfig, create_app

    config = ServeConfig(
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        queue_size=args.queue_size,
        max_bytes=args.max_bytes,
        max_pixels=args.max_pixels,
        timeout=args.timeout,
    )
    options = {
        "model": args.model,
        "device": str(device_from_args(args)),
        "precision": args.precision,
        "threads": args.threads,
        **segmenter_options(args),
    }
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    with torch_threads(args.threads):
        predictor = load(args.MODEL, **options)  # fails here, before the port is taken
        print(
            f"serving {predictor.name} ({predictor.backend}) on http://{args.host}:{args.port} "
            f"with {args.workers} worker(s); POST /predict, GET /health, GET /model",
            flush=True,
        )
        if args.workers == 1:
            uvicorn.run(create_app(predictor, config), host=args.host, port=args.port)
            return 0
        del predictor
        settings = {"model": args.MODEL, "load": options, "serve": asdict(config)}
        os.environ[ENV_CONFIG] = json.dumps(settings)
        uvicorn.run(
            "ffseg.serve.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
        )
    return 0
