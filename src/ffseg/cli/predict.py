"""``ffseg predict``: images, a folder or a video -> label masks, colour masks, overlays."""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ffseg.cli._args import (
    NAME_MAX,
    add_alias,
    add_batch_size_arg,
    add_device_args,
    add_inference_args,
    add_model_args,
    add_precision_arg,
    check_name_lengths,
    device_from_args,
    model_from_args,
    positive_int,
    refuse_ignored,
    refuse_inside,
    scales_from_args,
)
from ffseg.cli.predict_ray import add_ray_args, check_ray_args, run_ray
from ffseg.deploy.artifacts import is_exported
from ffseg.deploy.extras import require_extra
from ffseg.deploy.runtime import torch_threads
from ffseg.engine.precision import resolve_precision
from ffseg.inference import Segmenter
from ffseg.inference.files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, segment_path
from ffseg.inference.images import save_image

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("predict", help="segment images, a folder or a video")
    add_model_args(p)
    p.add_argument(
        "--onnx",
        help="run an exported file (.onnx, OpenVINO .xml, .pt2, TorchScript; uses its sidecar) "
        "instead of --model; --weights accepts these too",
    )
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
        "--mask-format",
        choices=("index", "palette"),
        default="index",
        help="label mask PNGs: index (grey values = class ids) or palette (the same ids in a "
        "'P'-mode PNG that viewers show in the model's class colours)",
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
        type=positive_int,
        metavar=("H", "W"),
        help="--mode whole: the same as --input-size; --mode slide: resize every image to H W "
        "before the windows (default: no resize)",
    )
    add_alias(p, "--size", dest="resize", nargs=2, type=positive_int)
    add_batch_size_arg(p, 1, "images per batch (consecutive images of one size)")
    add_device_args(p)
    add_precision_arg(p)
    add_alias(p, "--bf16", dest="precision", action="store_const", const="bf16")
    add_ray_args(p)
    p.set_defaults(func=run_predict)


def _segmenter(args: argparse.Namespace) -> Segmenter:
    slide = args.mode == "slide"
    opts = dict(mode=args.mode, scales=scales_from_args(args), flip=args.flip)
    opts["stride"] = tuple(args.stride) if slide and args.stride else None
    opts["crop_size"] = tuple(args.input_size) if slide and args.input_size else None
    resize = args.resize or (None if slide else args.input_size)
    opts["size"] = tuple(resize) if resize else None
    if args.onnx or is_exported(args.weights):  # any exported artifact, on the CPU
        return Segmenter.from_artifact(args.onnx or args.weights, threads=args.threads, **opts)
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


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse flags the chosen way of running would ignore, before any work."""
    if args.onnx:
        refuse_ignored(
            "--onnx runs the exported file with ONNX Runtime on the CPU in fp32 (its model and "
            "classes come from the file and its sidecar)",
            model=args.model,
            weights=args.weights,
            num_classes=args.num_classes,
            precision=args.precision != "fp32",
            device=args.device != "auto",
        )
    refuse_ignored("--stride applies to --mode slide", stride=args.stride and args.mode != "slide")


def _output_names(stem: str, kinds: list[str]) -> list[str]:
    return [f"{stem}.png" if kind == "mask" else f"{stem}_{kind}.png" for kind in kinds]


def _check_outputs(args: argparse.Namespace, video: bool, kinds: list[str]) -> None:
    """Refuse, before any work, an --out that is the --source folder and images whose outputs
    would overwrite each other or an input (``a.png`` and ``a.jpg``; ``b_overlay.png`` next to
    ``b.png`` with --overlay)."""
    out, source = check_name_lengths("--out", args.out), Path(args.source)
    refuse_inside("--out", out, "--source", source, inside=False)  # predict does not recurse
    if video:
        return
    if source.is_dir():
        images = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        images = [source]
    inputs = {p.resolve(): p for p in images}
    owner: dict[str, Path] = {}
    for image in images:
        for name in _output_names(image.stem, kinds):
            size = len(os.fsencode(name))
            if size > NAME_MAX:
                raise ValueError(
                    f"--source {image.name[:24]}...: its output {name[:24]}... would be a name of "
                    f"{size} bytes, over the {NAME_MAX} bytes file systems allow; rename the image"
                )
            other = owner.setdefault(name, image)
            if other != image:
                raise ValueError(
                    f"--source {source}: {other.name} and {image.name} would both be written "
                    f"as {name} in --out (outputs are named by the image's stem); rename one"
                )
            target = (out / name).resolve()
            if target in inputs:
                raise ValueError(
                    f"--out {out}: the output {name} of {image.name} would overwrite the input "
                    f"{inputs[target]}; choose another --out"
                )


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
        palette = args.mask_format == "palette" and not args.save_masks
        refuse_ignored("a video gets label mask PNGs only with --save-masks", mask_format=palette)
    else:
        reason = "it is for a video --source; images always get their label mask PNG"
        refuse_ignored(reason, save_masks=args.save_masks)
    return video


def _palette_masks(paths: list[Path], palette: list[tuple[int, int, int]]) -> None:
    """Rewrite label-mask PNGs as 'P'-mode PNGs: the same class ids, with ``palette`` as their
    colour table (ids beyond the palette, e.g. 255 = ignore, show black)."""
    table = np.zeros((256, 3), np.uint8)
    table[: min(len(palette), 256)] = np.asarray(palette, np.uint8)[:256]
    for path in paths:
        with Image.open(path) as mask:
            ids = np.asarray(mask)
        image = Image.fromarray(ids.astype(np.uint8), mode="P")
        image.putpalette(table.reshape(-1).tolist())
        save_image(image, path)


def run_predict(args: argparse.Namespace) -> int:
    _check_flags(args)
    check_ray_args(args)
    kinds = ["mask"] + [k for k in ("color", "overlay") if getattr(args, k)]
    if args.ray:
        return run_ray(args, _segmenter, kinds)
    video = _check_source(args)
    _check_outputs(args, video, kinds)
    skipped: list[tuple[Path, Exception]] = []
    with torch_threads(args.threads):
        segmenter = _segmenter(args)
        if args.mask_format == "palette" and len(segmenter.palette) > 256:
            raise ValueError(
                f"--mask-format palette: a palette PNG holds 256 classes, this model has "
                f"{len(segmenter.palette)}; use --mask-format index"
            )
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
    if args.mask_format == "palette":
        masks = [Path(args.out) / f"{p.stem}.png" for p in written] if not video else []
        if video and args.save_masks:
            masks = sorted(written[-1].glob("*.png"))
        _palette_masks(masks, segmenter.palette)
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
