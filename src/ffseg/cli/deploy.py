"""``ffseg bench``, ``ffseg export`` and ``ffseg quantize``."""

from __future__ import annotations

import argparse
import json
import logging
import statistics
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["add_model_args", "load_model", "real_images", "register"]

log = logging.getLogger("ffseg.deploy")


# ----------------------------------------------------------------------------- shared helpers
def add_model_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--model``, ``--weights``, ``--num-classes``."""
    parser.add_argument("--model", required=required, help="model name or official alias")
    parser.add_argument("--weights", default=None, help="local checkpoint (.pth/.pt/.safetensors)")
    parser.add_argument("--num-classes", type=int, default=None, help="output classes")


def load_model(
    name: str, weights: str | None = None, num_classes: int | None = None, *, he_init: bool = False
) -> nn.Module:
    """A model in eval mode; weight-file problems raise errors naming the file and the fix.

    ``he_init`` (only without ``weights``): ask the constructor for ``init="kaiming"`` when it
    has one, so random activations keep realistic magnitudes (the official N(0, 0.01) init lets
    them decay into denormals, which would time the FPU's slow path instead of the network).
    """
    from ffseg.models import create_model

    if weights is not None:
        if not Path(weights).is_file():
            raise FileNotFoundError(
                f"weights file not found: {weights} (pass the path of a local checkpoint)"
            )
        return create_model(name, pretrained=weights, num_classes=num_classes).eval()
    if he_init:
        try:
            return create_model(name, num_classes=num_classes, init="kaiming").eval()
        except TypeError:
            pass
    return create_model(name, num_classes=num_classes).eval()


def real_images(
    dataset: str, root: str | None, split: str, size: tuple[int, int], mean: Any, std: Any, num: int
) -> list[torch.Tensor]:
    """``num`` normalised ``[1,3,H,W]`` images of a dataset split, resized to ``size``."""
    from ffseg.deploy.quantize import calibration_arrays

    arrays = calibration_arrays(dataset, root, size, mean, std, split=split, num=num)
    return [torch.from_numpy(a) for a in arrays]


def _size(model: nn.Module, size: list[int] | None) -> tuple[int, int]:
    if size:
        return int(size[0]), int(size[1])
    return tuple(model.pretrained_cfg.input_size[1:])  # type: ignore[return-value]


def _data_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--data", default=None, help=f"dataset name for {what} (e.g. camvid)")
    p.add_argument("--data-root", default=None, help="dataset root folder")


# ----------------------------------------------------------------------------- register
def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="latency / throughput per model x backend x precision")
    p.add_argument("--model", action="append", default=[], help="name or fnmatch pattern")
    p.add_argument("--weights", default=None, help="checkpoint (only with a single model)")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--size", nargs=2, type=int, action="append", metavar=("H", "W"))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--backend", action="append", default=None, help="raw, eager, channels_last, compile, onnxruntime (repeat; default all but compile)")  # fmt: skip
    p.add_argument("--precision", action="append", default=None, help="fp32, bf16, fp16 (CUDA), int8 (repeat; default fp32 bf16 int8)")  # fmt: skip
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--peak", action="store_true", help="measure GEMM and 3x3-conv peak GFLOP/s")
    _data_args(p, "accuracy columns and int8 calibration")
    p.add_argument("--num-images", type=int, default=8, help="real images to compare / calibrate")
    p.add_argument("--out", action="append", default=[], help="results .csv/.json/.md (repeat)")
    p.add_argument("--plot", default=None, help="Pareto PNG: latency vs mIoU")
    p.add_argument("--miou-file", default=None, help="JSON {model: mIoU} for --plot")
    p.add_argument("--onnx-dir", default=None, help="cache exported/quantized ONNX files here")
    p.set_defaults(func=run_bench)

    p = subparsers.add_parser("export", help="ONNX (verified in ONNX Runtime), TorchScript, torch.export")  # fmt: skip
    add_model_args(p)
    p.add_argument("--out", required=True, help="output file (.onnx / .ts / .pt2)")
    p.add_argument("--format", choices=("onnx", "torchscript", "torch.export"), default=None, help="default: from the suffix")  # fmt: skip
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--output", choices=("logits", "probs", "argmax"), default="logits")
    p.add_argument("--resize-to-input", action="store_true", help="resize logits to input size")
    p.add_argument("--dynamic", action="store_true", help="dynamic batch/height/width (ONNX)")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--legacy-exporter", action="store_true", help="TorchScript-based ONNX exporter")
    p.add_argument("--verify-data", default=None, help="verify also on real images of this dataset")  # fmt: skip
    p.add_argument("--data-root", default=None)
    p.add_argument("--verify-images", type=int, default=4)
    p.add_argument("--rtol", type=float, default=1e-4)
    p.set_defaults(func=run_export)

    p = subparsers.add_parser("quantize", help="INT8 static quantization (ONNX Runtime QDQ)")
    add_model_args(p, required=False)
    p.add_argument("--onnx", default=None, help="quantize this fp32 ONNX file (with sidecar) instead of exporting --model")  # fmt: skip
    p.add_argument("--out", required=True, help="output .onnx (int8)")
    p.add_argument("--size", nargs=2, type=int, metavar=("H", "W"))
    _data_args(p, "calibration and mIoU")
    p.add_argument("--calib-split", default="train")
    p.add_argument("--num-calib", type=int, default=32)
    p.add_argument("--val-split", default="val")
    p.add_argument("--num-val", type=int, default=None, help="validation images (default all)")
    p.add_argument("--method", choices=("minmax", "entropy", "percentile"), default="minmax")
    p.add_argument("--no-per-channel", action="store_true")
    p.add_argument("--exclude-first-conv", action="store_true")
    p.add_argument("--exclude-classifier", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--runs", type=int, default=20, help="timed runs for latency before/after")
    p.add_argument("--report", default=None, help="write the before/after report as JSON")
    p.set_defaults(func=run_quantize)


# ----------------------------------------------------------------------------- bench
def run_bench(args: argparse.Namespace) -> int:
    from ffseg.deploy.bench import (
        benchmark_model,
        machine_info,
        measure_peak,
        pareto_plot,
        results_markdown,
        write_results,
    )
    from ffseg.models import list_models, resolve_name

    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    meta: dict[str, Any] = machine_info(threads)
    peak = None
    if args.peak:
        meta["peak_gflops"] = peaks = measure_peak(threads)
        peak = peaks.get("conv3x3_fp32")
        print("peak GFLOP/s: " + ", ".join(f"{k} {v:.1f}" for k, v in peaks.items()))
    names: list[str] = []
    for pattern in args.model:
        found = (
            list_models(pattern) if any(c in pattern for c in "*?[") else [resolve_name(pattern)]
        )
        if not found:
            raise ValueError(f"no model matches {pattern!r}; see `ffseg list`")
        names += [n for n in found if n not in names]
    if not names:
        if args.peak:
            return 0
        raise ValueError("nothing to benchmark: pass --model NAME (or --peak)")
    if args.weights and len(names) > 1:
        raise ValueError("--weights applies to a single model; pass one --model")
    backends = args.backend or ["raw", "eager", "channels_last", "onnxruntime"]
    precisions = args.precision or ["fp32", "bf16", "int8"]
    meta["args"] = {k: v for k, v in vars(args).items() if k != "func"}
    meta["weights"] = args.weights or "random (He init where available), denormals flushed"
    results = []
    for name in names:
        model = load_model(name, args.weights, args.num_classes, he_init=True)
        for size in args.size or [None]:
            hw = _size(model, size)
            compare = calib = None
            if args.data:
                cfg = model.pretrained_cfg
                compare = real_images(args.data, args.data_root, "val", hw, cfg.mean, cfg.std, args.num_images)  # fmt: skip
                calib_t = real_images(args.data, args.data_root, "train", hw, cfg.mean, cfg.std, args.num_images)  # fmt: skip
                calib = [c.numpy() for c in calib_t]
            results += benchmark_model(
                model, hw, batch=args.batch, backends=backends, precisions=precisions,
                runs=args.runs, warmup=args.warmup, threads=threads, device=args.device,
                peak_gflops=peak, compare_inputs=compare, calibration=calib,
                workdir=args.onnx_dir,
            )  # fmt: skip
    print(results_markdown(results))
    for out in args.out:
        print(f"wrote {write_results(results, out, meta)}")
    if args.plot:
        miou = _miou_table(names, args.miou_file)
        print(f"wrote {pareto_plot(results, args.plot, miou)}")
    return 0


def _miou_table(names: list[str], path: str | None) -> dict[str, float]:
    if path:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read --miou-file {path}: {exc} (expected JSON {{model: mIoU}})") from exc  # fmt: skip
        return {str(k): float(v) for k, v in data.items()}
    from ffseg.models import create_model

    table = {}
    for name in names:
        with torch.device("meta"):
            published = create_model(name).pretrained_cfg.published
        value = next((v for k, v in published.items() if "miou" in k), None)
        if value is not None:
            table[name] = float(value)
    return table


# ----------------------------------------------------------------------------- export
def run_export(args: argparse.Namespace) -> int:
    from ffseg.deploy.export import export_onnx, export_program, export_torchscript

    model = load_model(args.model, args.weights, args.num_classes)
    hw = _size(model, args.size)
    fmt = args.format or {".onnx": "onnx", ".ts": "torchscript", ".pt": "torchscript", ".pt2": "torch.export"}.get(Path(args.out).suffix.lower())  # fmt: skip
    if fmt is None:
        raise ValueError(f"cannot tell the format from {args.out}; use .onnx/.ts/.pt2 or --format")
    common = dict(output=args.output, resize_to_input=args.resize_to_input, rtol=args.rtol)
    if fmt == "onnx":
        images = None
        if args.verify_data:
            cfg = model.pretrained_cfg
            images = real_images(args.verify_data, args.data_root, "val", hw, cfg.mean, cfg.std, args.verify_images)  # fmt: skip
        report = export_onnx(
            model, args.out, hw, batch=args.batch, dynamic=args.dynamic, opset=args.opset,
            dynamo=not args.legacy_exporter, verify_images=images, **common,
        )  # fmt: skip
    elif fmt == "torchscript":
        report = export_torchscript(model, args.out, hw, **common)
    else:
        report = export_program(model, args.out, hw, **common)
    print(
        f"wrote {report.path} ({report.format}, input {hw[0]}x{hw[1]}): verified on "
        f"{len(report.checked_shapes)} input(s), max abs diff {report.max_abs_diff:.3g}, "
        f"argmax agreement {report.argmax_agreement:.4%}"
        + (f"; sidecar {report.sidecar}" if report.sidecar else "")
    )
    return 0


# ----------------------------------------------------------------------------- quantize
def run_quantize(args: argparse.Namespace) -> int:
    from ffseg.deploy.bench import time_fn
    from ffseg.deploy.export import export_onnx
    from ffseg.deploy.ort import ort_session
    from ffseg.deploy.quantize import (
        calibration_arrays,
        evaluate_onnx,
        labelled_arrays,
        quantize_onnx,
    )

    if not args.data:
        raise ValueError("quantize needs calibration data: pass --data NAME --data-root DIR")
    out = Path(args.out)
    if args.onnx:
        fp32 = Path(args.onnx)
        sidecar = fp32.with_suffix(".json")
        if not sidecar.is_file():
            raise FileNotFoundError(f"sidecar {sidecar} not found; export with `ffseg export`")
        meta = json.loads(sidecar.read_text())
        hw = tuple(args.size or meta["input_size"])
        mean, std, num_classes = meta["mean"], meta["std"], meta["num_classes"]
    else:
        if not args.model:
            raise ValueError("pass --model NAME (with --weights) or --onnx FILE")
        model = load_model(args.model, args.weights, args.num_classes)
        hw = _size(model, args.size)
        cfg = model.pretrained_cfg
        mean, std, num_classes = cfg.mean, cfg.std, model.num_classes
        fp32 = out.with_name(out.stem + "_fp32.onnx")
        export_onnx(model, fp32, hw)  # type: ignore[arg-type]
    calib = calibration_arrays(args.data, args.data_root, hw, mean, std, split=args.calib_split, num=args.num_calib)  # type: ignore[arg-type]  # fmt: skip
    quantize_onnx(
        fp32, out, calib, per_channel=not args.no_per_channel, method=args.method,
        exclude_first_conv=args.exclude_first_conv, exclude_classifier=args.exclude_classifier,
    )  # fmt: skip
    report: dict[str, Any] = {"fp32": str(fp32), "int8": str(out), "input_size": list(hw)}
    x = calib[0]
    for key, path in (("fp32", fp32), ("int8", out)):
        session = ort_session(path, threads=args.threads)
        samples = labelled_arrays(args.data, args.data_root, args.val_split, hw, mean, std, args.num_val)  # type: ignore[arg-type]  # fmt: skip
        metrics = evaluate_onnx(session, samples, num_classes)
        times = time_fn(lambda s=session: s.run(None, {"input": x}), args.runs, 3)
        report[key] = {"miou": metrics["miou"], "aacc": metrics["aacc"], "num_images": metrics["num_images"], "median_ms": statistics.median(times)}  # fmt: skip
    f, q = report["fp32"], report["int8"]
    print(f"{'':6s} {'mIoU':>8s} {'aAcc':>8s} {'median ms':>10s}")
    for key in ("fp32", "int8"):
        r = report[key]
        print(f"{key:6s} {r['miou'] * 100:8.2f} {r['aacc'] * 100:8.2f} {r['median_ms']:10.1f}")
    print(f"speed-up {f['median_ms'] / q['median_ms']:.2f}x, mIoU change {(q['miou'] - f['miou']) * 100:+.2f} points; wrote {out}")  # fmt: skip
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    return 0
