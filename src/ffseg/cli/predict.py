"""``ffseg predict``: images, a folder or a video -> label masks, colour masks, overlays."""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
from pathlib import Path

from tqdm import tqdm

from ffseg.cli._args import (
    add_alias,
    add_batch_size_arg,
    add_device_args,
    add_inference_args,
    add_model_args,
    add_precision_arg,
    device_from_args,
    model_from_args,
    scales_from_args,
)
from ffseg.deploy.extras import require_extra
from ffseg.deploy.runtime import torch_threads
from ffseg.engine.precision import resolve_precision
from ffseg.inference import Segmenter
from ffseg.inference.files import VIDEO_SUFFIXES, segment_path

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("predict", help="segment images, a folder or a video")
    add_model_args(p)
    p.add_argument("--onnx", help="run an exported ONNX file (uses its sidecar) instead of --model")
    p.add_argument("--source", required=True, help="image, folder of images, or video file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--overlay", action="store_true", help="also write colour overlays (a video: always)"
    )
    p.add_argument(
        "--color",
        action="store_true",
        help="also write colour masks (a video: the colour-mask video instead of the overlay one)",
    )
    p.add_argument(
        "--save-masks",
        action="store_true",
        help="a video: also write each frame's label mask PNG to OUT/<stem>_masks/",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip images that cannot be decoded and list them at the end (default: stop)",
    )
    add_inference_args(
        p,
        "network input size: images are resized to it (--mode whole) or it is the window "
        "(--mode slide); default: the model's native size. Masks are written at each image's "
        "size",
    )
    p.add_argument(
        "--resize",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        help="--mode whole: the same as --input-size; --mode slide: resize every image to H W "
        "before the windows (default: no resize)",
    )
    add_alias(p, "--size", dest="resize", nargs=2, type=int)
    add_batch_size_arg(p, 1, "images per batch (consecutive images of one size)")
    add_device_args(p)
    add_precision_arg(p)
    add_alias(p, "--bf16", dest="precision", action="store_const", const="bf16")
    p.set_defaults(func=run_predict)


def _segmenter(args: argparse.Namespace) -> Segmenter:
    slide = args.mode == "slide"
    opts = dict(mode=args.mode, scales=scales_from_args(args), flip=args.flip)
    opts["stride"] = tuple(args.stride) if slide and args.stride else None
    opts["crop_size"] = tuple(args.input_size) if slide and args.input_size else None
    resize = args.resize or (None if slide else args.input_size)
    opts["size"] = tuple(resize) if resize else None
    if args.onnx:
        return Segmenter.from_onnx(args.onnx, threads=args.threads, **opts)
    if not args.model and not args.weights:
        raise ValueError("pass --model NAME (optionally --weights) or --onnx FILE")
    device = device_from_args(args)
    dtype = resolve_precision(args.precision, device, what="--precision").dtype
    if args.weights is None:
        log.warning(
            "no --weights given: %s is untrained (random weights), its masks are meaningless; "
            "pass --weights CHECKPOINT_OR_FOLDER",
            args.model,
        )
    return Segmenter(model_from_args(args), device=device, dtype=dtype, **opts)


def _check_source(args: argparse.Namespace) -> bool:
    """Check the source and the extras it needs before loading a model; True for a video."""
    source = Path(args.source)
    if not source.exists():
        raise FileNotFoundError(
            f"--source {source} does not exist (pass an image, folder or video)"
        )
    video = source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES
    if video:
        require_extra("video", "av", purpose=f"ffseg predict --source {source}")
    elif args.save_masks:
        log.warning("--save-masks is for videos; images always get their label mask PNG")
    return video


def run_predict(args: argparse.Namespace) -> int:
    video = _check_source(args)
    skipped: list[tuple[Path, Exception]] = []
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
            on_bad=(lambda path, exc: skipped.append((path, exc))) if args.skip_bad else None,
            save_masks=args.save_masks,
        )
    if video:
        print(f"wrote {', '.join(map(str, written))}: {len(latencies)} frames")
    else:
        print(f"wrote {len(written)} prediction(s) to {args.out}")
    if skipped:
        print(f"skipped {len(skipped)} undecodable image(s):", file=sys.stderr)
        for path, exc in skipped:
            print(f"  {path}: {exc}", file=sys.stderr)
    if latencies:
        print(
            f"latency per image/frame: median {statistics.median(latencies):.1f} ms, "
            f"mean {statistics.fmean(latencies):.1f} ms over {len(latencies)}"
        )
    return 0
