"""``ffseg predict``: images, a folder or a video -> label masks, colour masks, overlays."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from tqdm import tqdm

from ffseg.cli._args import (
    add_alias,
    add_batch_size_arg,
    add_device_args,
    add_input_size_arg,
    add_model_args,
    add_precision_arg,
    device_from_args,
    model_from_args,
)
from ffseg.deploy.runtime import torch_threads
from ffseg.engine.precision import resolve_precision
from ffseg.inference import Segmenter
from ffseg.inference.files import VIDEO_SUFFIXES, segment_path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("predict", help="segment images, a folder or a video")
    add_model_args(p)
    p.add_argument("--onnx", help="run an exported ONNX file (uses its sidecar) instead of --model")
    p.add_argument("--source", required=True, help="image, folder of images, or video file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overlay", action="store_true", help="also write colour overlays")
    p.add_argument("--color", action="store_true", help="also write colour masks")
    p.add_argument("--mode", choices=("whole", "slide"), default="whole", help="inference mode")
    add_input_size_arg(
        p,
        "network input size: the window with --mode slide (default: the model's native size); "
        "with --mode whole images are resized to it (default: their own size)",
        size_alias=False,
    )
    p.add_argument("--scales", type=float, nargs="+", default=[1.0], help="image scales averaged")
    p.add_argument("--flip", action="store_true", help="also average the mirrored prediction")
    p.add_argument(
        "--resize",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        help="resize every image to H W first, in any mode (default: no resize)",
    )
    add_alias(p, "--size", dest="resize", nargs=2, type=int)
    add_batch_size_arg(p, 1, "images per batch (consecutive images of one size)")
    add_device_args(p)
    add_precision_arg(p)
    add_alias(p, "--bf16", dest="precision", action="store_const", const="bf16")
    p.set_defaults(func=run_predict)


def _segmenter(args: argparse.Namespace) -> Segmenter:
    slide = args.mode == "slide"
    opts = dict(mode=args.mode, scales=tuple(args.scales), flip=args.flip)
    opts["crop_size"] = tuple(args.input_size) if slide and args.input_size else None
    resize = args.resize or (None if slide else args.input_size)
    opts["size"] = tuple(resize) if resize else None
    if args.onnx:
        return Segmenter.from_onnx(args.onnx, threads=args.threads, **opts)
    if not args.model and not args.weights:
        raise ValueError("pass --model NAME (optionally --weights) or --onnx FILE")
    device = device_from_args(args)
    dtype = resolve_precision(args.precision, device, what="--precision").dtype
    return Segmenter(model_from_args(args), device=device, dtype=dtype, **opts)


def run_predict(args: argparse.Namespace) -> int:
    with torch_threads(args.threads):
        segmenter = _segmenter(args)
        kinds = ["mask"] + [k for k in ("color", "overlay") if getattr(args, k)]
        written, latencies = segment_path(
            segmenter,
            args.source,
            args.out,
            kinds=kinds,
            batch_size=args.batch_size,
            progress=lambda items: tqdm(items, desc="predict", unit="item", leave=False),
        )
    if Path(args.source).suffix.lower() in VIDEO_SUFFIXES:
        print(f"wrote {written[0]}: {len(latencies)} frames")
    else:
        print(f"wrote {len(written)} prediction(s) to {args.out}")
    if latencies:
        print(
            f"latency per image/frame: median {statistics.median(latencies):.1f} ms, "
            f"mean {statistics.fmean(latencies):.1f} ms over {len(latencies)}"
        )
    return 0
