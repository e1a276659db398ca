"""``ffseg bench``, ``ffseg export`` and ``ffseg quantize``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader, Subset

from ffseg._io import atomic_write_json
from ffseg.cli._args import (
    add_alias,
    add_batch_size_arg,
    add_data_args,
    add_device_args,
    add_input_size_arg,
    add_model_args,
    add_num_images_arg,
    add_precision_arg,
    dataset_from_args,
    device_from_args,
    image_source,
    model_from_args,
)
from ffseg.cli.evaluate import use_run_data
from ffseg.data import eval_transforms
from ffseg.deploy.bench import (
    BACKENDS,
    PRECISIONS,
    benchmark_models,
    expand_model_names,
    machine_info,
    measure_peak,
)
from ffseg.deploy.export import EXPORT_FORMATS, OUTPUT_KINDS, export_model, export_onnx
from ffseg.deploy.extras import require_extra
from ffseg.deploy.model_info import input_size_of
from ffseg.deploy.ort import read_sidecar
from ffseg.deploy.quantize import CALIBRATION_METHODS, quantize_and_compare
from ffseg.deploy.report import (
    miou_label,
    miou_table,
    pareto_plot,
    results_markdown,
    write_results,
)
from ffseg.deploy.runtime import flushed_denormals, torch_threads
from ffseg.deploy.samples import first_images

__all__ = ["register"]

log = logging.getLogger(__name__)

DEFAULT_BACKENDS = ["raw", "eager", "channels_last", "onnxruntime"]
DEFAULT_PRECISIONS = ["fp32", "bf16", "int8"]


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_bench(subparsers.add_parser("bench", help="latency per model x backend x precision"))
    _register_export(
        subparsers.add_parser("export", help="ONNX (verified in ONNX Runtime), TorchScript, .pt2")
    )
    _register_quantize(
        subparsers.add_parser("quantize", help="INT8 static quantization (ONNX Runtime QDQ)")
    )


def _register_bench(p: argparse.ArgumentParser) -> None:
    add_model_args(p, multiple=True)
    add_input_size_arg(p, "input size, repeat for several (default: native)", multiple=True)
    add_batch_size_arg(p, 1)
    p.add_argument(
        "--backend",
        action="append",
        choices=BACKENDS,
        help=f"repeat for several (default: {' '.join(DEFAULT_BACKENDS)})",
    )
    add_precision_arg(p, PRECISIONS, DEFAULT_PRECISIONS, multiple=True)
    p.add_argument("--runs", type=int, default=50, help="timed runs")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    add_device_args(p)
    p.add_argument("--peak", action="store_true", help="measure GEMM and 3x3-conv peak GFLOP/s")
    add_data_args(p, purpose="accuracy columns and int8 calibration")
    add_num_images_arg(p, 8, "real images to compare / calibrate with")
    p.add_argument("--out", action="append", default=[], help="results .csv/.json/.md (repeat)")
    p.add_argument("--plot", help="write a latency-vs-mIoU Pareto PNG here")
    p.add_argument("--miou-file", help="JSON {model: mIoU} for --plot (default: published)")
    p.add_argument("--onnx-dir", help="cache exported ONNX files here (default: a temp folder)")
    p.set_defaults(func=run_bench)


def _register_export(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument("--out", required=True, help=f"output file ({', '.join(EXPORT_FORMATS)})")
    p.add_argument(
        "--format",
        choices=("onnx", "torchscript", "torch.export"),
        help="artifact format (default: from the --out suffix)",
    )
    add_input_size_arg(p, "input size H W (default: the model's native size)")
    add_batch_size_arg(p, 1, "batch of the exported graph")
    p.add_argument(
        "--output", choices=OUTPUT_KINDS, default="logits", help="what the graph returns"
    )
    p.add_argument("--resize-to-input", action="store_true", help="resize logits to input size")
    p.add_argument("--dynamic", action="store_true", help="dynamic batch/height/width (ONNX)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset")
    p.add_argument("--legacy-exporter", action="store_true", help="TorchScript-based ONNX exporter")
    add_data_args(p, purpose="verifying on real images too")
    add_alias(p, "--verify-data", dest="data")
    add_num_images_arg(p, 4, "real images to verify on (with --data)", "--verify-images")
    p.add_argument("--rtol", type=float, default=1e-4, help="allowed max abs diff / max |logit|")
    add_device_args(p)
    p.set_defaults(func=run_export)


def _register_quantize(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument("--onnx", help="quantize this fp32 ONNX file (with sidecar) instead of --model")
    p.add_argument("--out", required=True, help="output .onnx (int8)")
    add_input_size_arg(p, "input size H W (default: native, or the ONNX file's)")
    add_data_args(p, purpose="calibration and mIoU")
    p.add_argument("--calib-split", default="train", help="split of the calibration images")
    add_num_images_arg(p, 32, "calibration images", "--num-calib")
    p.add_argument("--val-split", default="val", help="split measured before/after")
    p.add_argument("--num-val", type=int, help="validation images (default: all)")
    add_batch_size_arg(p, 1, "validation batch size")
    p.add_argument("--method", choices=CALIBRATION_METHODS, default="minmax", help="calibration")
    p.add_argument("--no-per-channel", action="store_true", help="per-tensor weight scales")
    p.add_argument("--exclude-first-conv", action="store_true", help="keep the stem in float")
    p.add_argument("--exclude-classifier", action="store_true", help="keep the classifier in float")
    add_device_args(p)
    p.add_argument("--runs", type=int, default=20, help="timed runs for latency before/after")
    p.add_argument("--report", help="write the before/after report as JSON (default: none)")
    p.set_defaults(func=run_quantize)


def _require_onnx(verb: str, *, exporter: bool = True) -> None:
    """``onnx`` + ``onnxruntime`` (+ ``onnxscript`` for the dynamo exporter), before any work."""
    modules = ("onnx", "onnxruntime", "onnxscript") if exporter else ("onnx", "onnxruntime")
    require_extra("export", *modules, purpose=f"ffseg {verb}")


def _check_bench_extras(args: argparse.Namespace) -> None:
    """The extras the requested backends, precisions and plot need, before any benchmark."""
    backends = args.backend or DEFAULT_BACKENDS
    if "onnxruntime" in backends or "int8" in (args.precision or DEFAULT_PRECISIONS):
        what = "ffseg bench --backend onnxruntime / --precision int8"
        require_extra("export", "onnx", "onnxruntime", "onnxscript", purpose=what)
    if args.plot:
        require_extra("plot", "matplotlib", purpose="ffseg bench --plot")
        if args.miou_file:
            miou_table([], args.miou_file)  # a bad file fails now, not after the benchmark


def _warn_untrained(args: argparse.Namespace, verb: str) -> None:
    if args.weights is None and not getattr(args, "onnx", None):
        log.warning(
            "no --weights given: ffseg %s uses an untrained %s (random weights); "
            "pass --weights CHECKPOINT_OR_FOLDER for a trained model",
            verb,
            args.model,
        )


def _cpu_only(args: argparse.Namespace, verb: str) -> None:
    if device_from_args(args).type != "cpu" and args.device != "auto":
        raise ValueError(f"ffseg {verb} runs on the CPU; use --device cpu (or auto)")


# ----------------------------------------------------------------------------- bench
def run_bench(args: argparse.Namespace) -> int:
    _check_bench_extras(args)
    with torch_threads(args.threads) as threads, flushed_denormals():
        meta: dict[str, Any] = machine_info(threads)
        peak = None
        if args.peak:
            meta["peak_gflops"] = peaks = measure_peak(threads)
            peak = peaks.get("conv3x3_fp32")
            print("peak GFLOP/s: " + ", ".join(f"{k} {v:.1f}" for k, v in peaks.items()))
        names: list[str | None] = [*expand_model_names(args.model)]
        if not names and args.weights:  # a save_pretrained folder names its model
            names = [None]
        if not names:
            if args.peak:
                return 0
            raise ValueError("nothing to benchmark: pass --model NAME (or --peak)")
        meta["args"] = {k: v for k, v in vars(args).items() if k != "func"}
        meta["weights"] = args.weights or "random (He init where available), denormals flushed"
        results = benchmark_models(
            names,
            args.input_size or [None],
            weights=args.weights,
            num_classes=args.num_classes,
            images=image_source(args, args.num_images),
            **_bench_options(args, threads, peak),
        )
    print(results_markdown(results))
    for out in args.out:
        print(f"wrote {write_results(results, out, meta)}")
    if args.plot:
        names = [r.model for r in results]
        miou = miou_table(names, args.miou_file)
        axis = miou_label(names, args.miou_file)
        print(f"wrote {pareto_plot(results, args.plot, miou, miou_axis=axis)}")
    return 0


def _bench_options(args: argparse.Namespace, threads: int, peak: float | None) -> dict[str, Any]:
    """The :func:`ffseg.deploy.bench.benchmark_model` options of the ``bench`` flags."""
    return dict(
        batch=args.batch_size,
        backends=args.backend or DEFAULT_BACKENDS,
        precisions=args.precision or DEFAULT_PRECISIONS,
        runs=args.runs,
        warmup=args.warmup,
        threads=threads,
        device=device_from_args(args),
        peak_gflops=peak,
        workdir=args.onnx_dir,
    )


# ----------------------------------------------------------------------------- export
def run_export(args: argparse.Namespace) -> int:
    _cpu_only(args, "export")
    fmt = args.format or EXPORT_FORMATS.get(Path(args.out).suffix.lower())
    if fmt == "onnx":
        _require_onnx("export", exporter=not args.legacy_exporter)
    _warn_untrained(args, "export")
    with torch_threads(args.threads):
        model = model_from_args(args)
        hw = input_size_of(model, args.input_size)
        images = image_source(args, args.num_images)
        verify = images("val", hw, model.pretrained_cfg) if images else None
        options = dict(output=args.output, resize_to_input=args.resize_to_input, rtol=args.rtol)
        options.update(batch=args.batch_size, dynamic=args.dynamic, opset=args.opset)
        options.update(dynamo=not args.legacy_exporter, verify_images=verify)
        report = export_model(model, args.out, hw, format=args.format, **options)
    print(report.summary())
    return 0


# ----------------------------------------------------------------------------- quantize
def run_quantize(args: argparse.Namespace) -> int:
    _cpu_only(args, "quantize")
    _require_onnx("quantize", exporter=not args.onnx)
    if not args.data and not use_run_data(args):
        raise ValueError(
            "quantize needs calibration data: pass --data NAME --data-root DIR, or --weights "
            "with a training run folder (its own data is used)"
        )
    _warn_untrained(args, "quantize")
    with torch_threads(args.threads):
        fp32, meta = _fp32_onnx(args)
        hw = tuple(args.input_size or meta["input_size"])
        transforms = eval_transforms(meta["mean"], meta["std"], hw)
        calib = first_images(dataset_from_args(args, args.calib_split, transforms), args.num_images)
        # scored at the labels' stored size (the input-size rule; the network runs at hw)
        val = dataset_from_args(args, args.val_split, eval_transforms(meta["mean"], meta["std"]))
        val = Subset(val, range(min(args.num_val, len(val)))) if args.num_val else val
        options = dict(per_channel=not args.no_per_channel, method=args.method)
        options.update(exclude_first_conv=args.exclude_first_conv)
        options.update(exclude_classifier=args.exclude_classifier)
        comparison = quantize_and_compare(
            fp32,
            args.out,
            [c.numpy() for c in calib],
            DataLoader(val, args.batch_size),
            runs=args.runs,
            threads=args.threads,
            **options,
        )
    print(comparison.summary())
    if args.report:
        atomic_write_json(args.report, comparison.to_dict())
    return 0


def _fp32_onnx(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The fp32 ONNX file to quantize (``--onnx``, or ``--model`` exported next to ``--out``)
    and its sidecar."""
    if args.onnx:
        return Path(args.onnx), read_sidecar(args.onnx)
    model = model_from_args(args)
    out = Path(args.out)
    fp32 = out.with_name(out.stem + "_fp32.onnx")
    report = export_onnx(model, fp32, input_size_of(model, args.input_size))
    return fp32, read_sidecar(report.path)
