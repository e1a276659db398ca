"""``ffseg predict --ray``: the same prediction spread over a Ray Data actor pool."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from functools import partial

from ffseg.cli._args import positive_float, positive_int
from ffseg.deploy.artifacts import is_exported
from ffseg.deploy.extras import require_extra
from ffseg.inference import Segmenter
from ffseg.inference.ray_predict import predict_dataset

__all__ = ["add_ray_args", "check_ray_args", "run_ray"]


def add_ray_args(p: argparse.ArgumentParser) -> None:
    """``--ray``, ``--address``, ``--workers``, ``--cpus-per-worker``."""
    g = p.add_argument_group("batch inference on Ray (many images, one machine or a cluster)")
    g.add_argument(
        "--ray",
        action="store_true",
        help="run on Ray Data with a pool of model copies; --source may also be a glob or a "
        ".txt list of paths; images whose outputs exist are skipped (re-run to resume)",
    )
    g.add_argument(
        "--address",
        help="with --ray: the cluster to join (auto, or HEAD_IP:6379; default: a local instance)",
    )
    g.add_argument(
        "--workers", type=positive_int, default=2, help="with --ray: model copies (actors)"
    )
    g.add_argument(
        "--cpus-per-worker",
        type=positive_float,
        default=1.0,
        help="with --ray: CPUs (threads) per worker",
    )


def check_ray_args(args: argparse.Namespace) -> None:
    """Refuse Ray-only flags without ``--ray`` and check the extra before loading a model."""
    if not args.ray:
        if args.address:
            raise ValueError("--address is for --ray; add --ray or drop --address")
        return
    require_extra("ray", "ray", purpose="ffseg predict --ray")
    if args.save_masks:
        raise ValueError("--save-masks is for videos; --ray segments images (drop --save-masks)")


def run_ray(
    args: argparse.Namespace,
    build: Callable[[argparse.Namespace], Segmenter],
    kinds: Sequence[str],
) -> int:
    """Segment ``--source`` into ``--out`` on Ray; print counts and images/s."""
    # A runtime session (ONNX Runtime, OpenVINO, ...) cannot be pickled: each worker opens the
    # exported file itself (on a disk all nodes see).
    exported = bool(args.onnx) or is_exported(args.weights)
    segmenter = partial(build, args) if exported else build(args)
    on_gpu = not exported and segmenter.device.type == "cuda"
    result = predict_dataset(
        segmenter,
        args.source,
        args.out,
        kinds=kinds,
        batch_size=args.batch_size,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=1.0 if on_gpu else 0.0,
        address=args.address,
        skip_bad=args.skip_bad,
    )
    print(
        f"{result.written} image(s) segmented to {args.out}, {result.skipped} skipped (outputs "
        f"existed): {result.images_per_s:.1f} images/s with {args.workers} Ray worker(s) in "
        f"{result.seconds:.1f} s"
    )
    for path, error in result.bad:
        print(f"  skipped undecodable {path}: {error}")
    return 0
