"""``ffseg predict``: images, a folder or a video -> label masks, colour masks, overlays."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from tqdm import tqdm

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "register"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("predict", help="segment images, a folder or a video")
    p.add_argument("--model", default=None, help="model name or official alias")
    p.add_argument("--weights", default=None, help="local checkpoint")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--onnx", default=None, help="run an exported ONNX file (uses its sidecar)")
    p.add_argument("--source", required=True, help="image, folder of images, or video file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overlay", action="store_true", help="also write colour overlays")
    p.add_argument("--color", action="store_true", help="also write colour masks")
    p.add_argument("--mode", choices=("whole", "slide"), default="whole")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0])
    p.add_argument("--flip", action="store_true")
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"), help="resize input first")
    p.add_argument("--device", default="cpu")
    p.add_argument("--bf16", action="store_true", help="run in bfloat16")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=run_predict)


def _segmenter(args: argparse.Namespace):  # -> Segmenter
    import torch

    from ffseg.cli.deploy import load_model
    from ffseg.inference import Segmenter

    if args.threads:
        torch.set_num_threads(args.threads)
    opts = dict(mode=args.mode, scales=tuple(args.scales), flip=args.flip)
    size = tuple(args.size) if args.size else None
    if args.onnx:
        return Segmenter.from_onnx(args.onnx, threads=args.threads, size=size, **opts)
    if not args.model:
        raise ValueError("pass --model NAME (optionally --weights FILE) or --onnx FILE")
    model = load_model(args.model, args.weights, args.num_classes)
    dtype = torch.bfloat16 if args.bf16 else None
    return Segmenter(model, device=args.device, dtype=dtype, size=size, **opts)


def run_predict(args: argparse.Namespace) -> int:
    from ffseg.inference import segment_video

    source, out = Path(args.source), Path(args.out)
    if not source.exists():
        raise FileNotFoundError(f"--source {source} does not exist")
    segmenter = _segmenter(args)
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        target = out / f"{source.stem}_{'overlay' if not args.color else 'color'}.mp4"
        latencies = segment_video(
            segmenter, source, target, kind="color" if args.color else "overlay",
            progress=lambda frames: tqdm(frames, desc=source.name, unit="frame"),
        )  # fmt: skip
        print(f"wrote {target}: {len(latencies)} frames")
        _print_latency(latencies)
        return 0
    if source.is_dir():
        images = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}")
    else:
        images = [source]
    latencies = []
    for path in tqdm(images, desc="predict", unit="img", disable=len(images) < 2):
        result = segmenter(path)
        latencies.append(result.latency_ms)
        result.save(out / f"{path.stem}.png", "mask")
        if args.color:
            result.save(out / f"{path.stem}_color.png", "color")
        if args.overlay:
            result.save(out / f"{path.stem}_overlay.png", "overlay")
    print(f"wrote {len(images)} prediction(s) to {out}")
    _print_latency(latencies)
    return 0


def _print_latency(latencies: list[float]) -> None:
    if latencies:
        print(
            f"latency per image/frame: median {statistics.median(latencies):.1f} ms, "
            f"mean {statistics.fmean(latencies):.1f} ms over {len(latencies)}"
        )
