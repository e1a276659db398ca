"""``ffseg bench``, ``ffseg export`` and ``ffseg quantize``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader, Subset

from ffseg._io import atomic_write_json, sigterm_raises
from ffseg.cli._args import (
    add_alias,
    add_batch_size_arg,
    add_data_args,
    add_device_args,
    add_input_size_arg,
    add_model_args,
    add_num_images_arg,
    add_precision_arg,
    check_name_lengths,
    check_out_file,
    dataset_from_args,
    device_from_args,
    image_source,
    int_in,
    model_from_args,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
    refuse_ignored,
)
from ffseg.cli.evaluate import use_run_data
from ffseg.data import eval_transforms
from ffseg.deploy.artifacts import is_exported
from ffseg.deploy.bench import (
    BACKENDS,
    PRECISIONS,
    VALID_PRECISIONS,
    benchmark_artifact,
    benchmark_models,
    expand_model_names,
    machine_info,
    measure_peak,
)
from ffseg.deploy.export import (
    EXPORT_FORMATS,
    MIN_OPSET,
    OUTPUT_KINDS,
    check_opset,
    export_model,
    export_onnx,
    remove_stale_temps,
)
from ffseg.deploy.extras import require_extra
from ffseg.deploy.model_info import input_size_of
from ffseg.deploy.ort import read_sidecar
from ffseg.deploy.quantize import CALIBRATION_METHODS, quantize_and_compare
from ffseg.deploy.report import (
    RESULT_SUFFIXES,
    miou_label,
    miou_table,
    pareto_plot,
    results_markdown,
    write_results,
)
from ffseg.deploy.runtime import flushed_denormals, torch_threads
from ffseg.deploy.samples import first_images
from ffseg.deploy.sensitivity import layer_sensitivity
from ffseg.engine.precision import cpu_has_native_bf16

__all__ = ["register"]

#: ``quantize --max-drop`` for ONNX Runtime when not given: warn beyond 1 mIoU point.
DEFAULT_MAX_DROP = 1.0

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
    note = "; bf16 only on a GPU or a CPU with bf16 instructions"
    add_precision_arg(p, PRECISIONS, DEFAULT_PRECISIONS, multiple=True, note=note)
    p.add_argument("--runs", type=positive_int, default=50, help="timed runs")
    p.add_argument("--warmup", type=nonneg_int, default=5, help="untimed runs first")
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
        choices=("onnx", "torchscript", "torch.export", "openvino"),
        help="artifact format (default: from the --out suffix)",
    )
    add_input_size_arg(p, "input size H W (default: the model's native size)")
    add_batch_size_arg(p, 1, "batch of the exported graph")
    p.add_argument(
        "--output", choices=OUTPUT_KINDS, default="logits", help="what the graph returns"
    )
    p.add_argument("--resize-to-input", action="store_true", help="resize logits to input size")
    p.add_argument(
        "--dynamic", action="store_true", help="dynamic batch/height/width (ONNX, OpenVINO)"
    )
    p.add_argument("--fp16", action="store_true", help="float16 ONNX, float32 inputs/outputs")
    p.add_argument("--simplify", action="store_true", help="onnxslim graph simplification (ONNX)")
    p.add_argument(
        "--opset",
        type=int_in(MIN_OPSET),
        default=18,
        help="ONNX opset (at most what the installed exporter writes)",
    )
    p.add_argument("--legacy-exporter", action="store_true", help="TorchScript-based ONNX exporter")
    add_data_args(p, purpose="verifying on real images too")
    add_alias(p, "--verify-data", dest="data")
    add_num_images_arg(p, 4, "real images to verify on (with --data)", "--verify-images")
    p.add_argument(
        "--rtol", type=positive_float, default=1e-4, help="allowed max abs diff / max |logit|"
    )
    add_device_args(p)
    p.set_defaults(func=run_export)


def _register_quantize(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument("--onnx", help="quantize this fp32 ONNX file (with sidecar) instead of --model")
    p.add_argument("--out", required=True, help="output .onnx (int8), or .xml with openvino")
    p.add_argument(
        "--backend",
        choices=("onnxruntime", "openvino"),
        default="onnxruntime",
        help="onnxruntime (QDQ ONNX) or openvino (NNCF, IR)",
    )
    p.add_argument(
        "--max-drop",
        type=nonneg_float,
        help="largest val mIoU drop (points) int8 may cost: onnxruntime warns beyond it "
        "(default 1.0); openvino runs NNCF's accuracy-controlled quantization within it "
        "(default: plain post-training quantization)",
    )
    add_input_size_arg(p, "input size H W (default: native, or the ONNX file's)")
    add_data_args(p, purpose="calibration and mIoU")
    p.add_argument("--calib-split", default="train", help="split of the calibration images")
    add_num_images_arg(p, 32, "calibration images", "--num-calib")
    p.add_argument("--val-split", default="val", help="split measured before/after")
    p.add_argument("--num-val", type=positive_int, help="validation images (default: all)")
    add_batch_size_arg(p, 1, "validation batch size")
    p.add_argument("--method", choices=CALIBRATION_METHODS, default="minmax", help="calibration")
    p.add_argument("--no-per-channel", action="store_true", help="per-tensor weight scales")
    p.add_argument("--exclude-first-conv", action="store_true", help="keep the stem in float")
    p.add_argument("--exclude-classifier", action="store_true", help="keep the classifier in float")
    p.add_argument(
        "--exclude-node",
        action="append",
        default=[],
        metavar="NODE",
        help="keep this ONNX node in float (repeatable; names from --sensitivity)",
    )
    p.add_argument(
        "--no-reduce-range",
        action="store_true",
        help="full 8-bit weights (default: 7-bit, which avoids the saturation of int8 products "
        "on x86 CPUs without VNNI)",
    )
    p.add_argument(
        "--sensitivity",
        type=positive_int,
        nargs="?",
        const=8,
        metavar="IMAGES",
        help="first print a per-node report (each node left in float in turn, outputs compared "
        "with fp32 on IMAGES val images, default 8)",
    )
    add_device_args(p)
    p.add_argument(
        "--runs", type=positive_int, default=20, help="timed runs for latency before/after"
    )
    p.add_argument("--report", help="write the before/after report as JSON (default: none)")
    p.set_defaults(func=run_quantize)


def _require_onnx(verb: str, *, exporter: bool = True) -> None:
    """``onnx`` + ``onnxruntime`` (+ ``onnxscript`` for the dynamo exporter), before any work."""
    modules = ("onnx", "onnxruntime", "onnxscript") if exporter else ("onnx", "onnxruntime")
    require_extra("export", *modules, purpose=f"ffseg {verb}")


def _check_bench_args(args: argparse.Namespace) -> None:
    """Output files and flag combinations, before any benchmark."""
    for out in args.out:
        check_out_file("--out", out, RESULT_SUFFIXES)
    if args.plot:
        check_out_file("--plot", args.plot, (".png",))
    refuse_ignored("it is read for --plot only", miou_file=args.miou_file and not args.plot)
    backends = args.backend or DEFAULT_BACKENDS
    onnx = "onnxruntime" in backends or "int8" in (args.precision or DEFAULT_PRECISIONS)
    reason = "no --backend onnxruntime or --precision int8 is measured, so no ONNX file is made"
    refuse_ignored(reason, onnx_dir=args.onnx_dir and not onnx)
    if args.onnx_dir:
        check_name_lengths("--onnx-dir", args.onnx_dir)


def _check_bench_extras(args: argparse.Namespace) -> None:
    """The extras the requested backends, precisions and plot need, before any benchmark."""
    backends = args.backend or DEFAULT_BACKENDS
    if "onnxruntime" in backends or "int8" in (args.precision or DEFAULT_PRECISIONS):
        what = "ffseg bench --backend onnxruntime / --precision int8"
        require_extra("export", "onnx", "onnxruntime", "onnxscript", purpose=what)
    if "openvino" in backends:
        require_extra("openvino", "openvino", "nncf", purpose="ffseg bench --backend openvino")
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
def _check_bench_combinations(args: argparse.Namespace) -> None:
    """Refuse a ``--precision`` that none of the chosen backends runs (nothing would be
    measured for it), naming the backends that do."""
    backends = args.backend or DEFAULT_BACKENDS
    cuda = device_from_args(args).type == "cuda"
    for precision in dict.fromkeys(args.precision or ()):
        runs = [b for b in BACKENDS if precision in VALID_PRECISIONS[b]]
        if precision == "fp16" and not cuda:
            raise ValueError("--precision fp16 runs on a CUDA GPU only; use --device cuda or bf16")
        if not set(runs) & set(backends):
            raise ValueError(
                f"--precision {precision} runs on none of --backend {' '.join(backends)}; "
                f"add --backend {runs[0]} (backends that run {precision}: {', '.join(runs)})"
            )


def run_bench(args: argparse.Namespace) -> int:
    _check_bench_args(args)
    if is_exported(args.weights):
        return _run_bench_artifact(args)
    _check_bench_extras(args)
    _check_bench_combinations(args)
    with sigterm_raises(), torch_threads(args.threads) as threads, flushed_denormals():
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


def bench_precisions(args: argparse.Namespace) -> list[str]:
    """``--precision`` as given, else the defaults this device runs natively: bf16 is left out
    on a CPU without bf16 instructions (oneDNN would emulate it, several times slower than
    fp32), saying so in one line."""
    if args.precision:
        return list(args.precision)
    chosen = list(DEFAULT_PRECISIONS)
    if "bf16" in chosen and device_from_args(args).type == "cpu" and not cpu_has_native_bf16():
        chosen.remove("bf16")
        print(
            "bench: skipping bf16: this CPU has no bf16 instructions (AVX512-BF16 or AMX), so "
            "bf16 would be emulated, several times slower than fp32; pass --precision bf16 "
            "to measure it anyway",
            file=sys.stderr,
        )
    return chosen


def _bench_options(args: argparse.Namespace, threads: int, peak: float | None) -> dict[str, Any]:
    """The :func:`ffseg.deploy.bench.benchmark_model` options of the ``bench`` flags."""
    return dict(
        batch=args.batch_size,
        backends=args.backend or DEFAULT_BACKENDS,
        precisions=bench_precisions(args),
        runs=args.runs,
        warmup=args.warmup,
        threads=threads,
        device=device_from_args(args),
        peak_gflops=peak,
        workdir=args.onnx_dir,
    )


# ----------------------------------------------------------------------------- export
def _export_format(args: argparse.Namespace) -> str:
    """The format of ``--format`` / the ``--out`` suffix, checked against each other and
    against the flags only ONNX uses, before any work."""
    out = check_name_lengths("--out", args.out)
    by_suffix = EXPORT_FORMATS.get(out.suffix.lower())
    fmt = args.format or by_suffix
    suffixes = [k for k, v in EXPORT_FORMATS.items() if v == fmt] or list(EXPORT_FORMATS)
    if fmt is None or by_suffix != fmt:
        given = f"--format {args.format} with " if args.format else ""
        raise ValueError(
            f"{given}--out {out}: the suffix {out.suffix or '(none)'!r} does not name "
            f"{'a ' + fmt + ' file' if fmt else 'an export format'}; end --out in "
            f"{' or '.join(suffixes)}"
        )
    check_out_file("--out", out, suffixes)
    if fmt != "onnx":
        refuse_ignored(
            f"they apply to ONNX exports only, not --format {fmt}",
            dynamic=args.dynamic and fmt != "openvino",
            legacy_exporter=args.legacy_exporter,
            opset=args.opset != 18,
            batch_size=args.batch_size != 1,
            data=bool(args.data),
        )
    else:
        check_opset(args.opset, dynamo=not args.legacy_exporter)
    return fmt


def run_export(args: argparse.Namespace) -> int:
    _cpu_only(args, "export")
    fmt = _export_format(args)
    if fmt == "onnx":
        _require_onnx("export", exporter=not args.legacy_exporter)
    if fmt == "openvino":
        require_extra("openvino", "openvino", purpose="ffseg export --format openvino")
    if (args.fp16 or args.simplify) and fmt != "onnx":
        raise ValueError(f"--fp16 and --simplify are for ONNX exports, not {fmt}; drop them")
    _warn_untrained(args, "export")
    remove_stale_temps(args.out)
    with sigterm_raises(), torch_threads(args.threads):
        model = model_from_args(args)
        hw = input_size_of(model, args.input_size)
        images = image_source(args, args.num_images)
        verify = images("val", hw, model.pretrained_cfg) if images else None
        options = dict(output=args.output, resize_to_input=args.resize_to_input, rtol=args.rtol)
        options.update(batch=args.batch_size, dynamic=args.dynamic, opset=args.opset)
        options.update(dynamo=not args.legacy_exporter, verify_images=verify)
        options.update(fp16=args.fp16, simplify=args.simplify)
        report = export_model(model, args.out, hw, format=args.format, **options)
    print(report.summary())
    return 0


# ----------------------------------------------------------------------------- quantize
def _check_quantize_args(args: argparse.Namespace) -> None:
    """Output files and flag combinations, before any work."""
    suffix = ".xml" if args.backend == "openvino" else ".onnx"
    out = check_out_file("--out", args.out, (suffix,))
    if args.report:
        report = check_out_file("--report", args.report, (".json",))
        if report.resolve() == out.with_suffix(".json").resolve():
            raise ValueError(
                f"--report {report} is the sidecar quantize writes next to --out {out}; "
                "name the report differently"
            )
    if args.onnx:
        reason = "--onnx gives the model (its classes and input size come from its sidecar)"
        model_classes = args.num_classes and args.data != "synthetic"  # synthetic: the data's
        refuse_ignored(reason, model=args.model, weights=args.weights, num_classes=model_classes)
        if Path(args.onnx).resolve() == out.resolve():
            raise ValueError(
                f"--out {out} is the --onnx input; quantize would overwrite it: "
                "choose another --out"
            )


def run_quantize(args: argparse.Namespace) -> int:
    _check_quantize_args(args)
    _cpu_only(args, "quantize")
    if args.backend == "openvino":
        return _run_quantize_openvino(args)
    _require_onnx("quantize", exporter=not args.onnx)
    if not args.data and not use_run_data(args):
        raise ValueError(
            "quantize needs calibration data: pass --data NAME --data-root DIR, or --weights "
            "with a training run folder (its own data is used)"
        )
    _warn_untrained(args, "quantize")
    remove_stale_temps(args.out)
    with sigterm_raises(), torch_threads(args.threads):
        model = None if args.onnx else model_from_args(args)
        _check_class_count(args, model)
        fp32, meta = _fp32_onnx(args, model)
        hw = tuple(args.input_size or meta["input_size"])
        transforms = eval_transforms(meta["mean"], meta["std"], hw)
        calib = first_images(dataset_from_args(args, args.calib_split, transforms), args.num_images)
        # scored at the labels' stored size (the input-size rule; the network runs at hw)
        val = dataset_from_args(args, args.val_split, eval_transforms(meta["mean"], meta["std"]))
        val = Subset(val, range(min(args.num_val, len(val)))) if args.num_val else val
        calib_arrays = [c.numpy() for c in calib]
        options: dict[str, Any] = dict(per_channel=not args.no_per_channel, method=args.method)
        options.update(reduce_range=not args.no_reduce_range)
        sensitivity = None
        if args.sensitivity:
            at_hw = dataset_from_args(args, args.val_split, transforms)  # raw graph inputs
            images = [x.numpy() for x in first_images(at_hw, args.sensitivity)]
            sensitivity = layer_sensitivity(
                fp32, calib_arrays, images, threads=args.threads, progress=_progress, **options
            )
            print(sensitivity.summary())
        options.update(exclude_first_conv=args.exclude_first_conv)
        options.update(exclude_classifier=args.exclude_classifier)
        options.update(exclude_nodes=args.exclude_node)
        comparison = quantize_and_compare(
            fp32,
            args.out,
            calib_arrays,
            DataLoader(val, args.batch_size),
            runs=args.runs,
            threads=args.threads,
            **options,
        )
    print(comparison.summary())
    max_drop = DEFAULT_MAX_DROP if args.max_drop is None else args.max_drop
    missed = comparison.missed_target(max_drop)
    if missed:
        log.warning(missed)
    if args.report:
        report = {**comparison.to_dict(), "max_drop": max_drop, "target_met": not missed}
        if sensitivity:
            report["sensitivity"] = sensitivity.to_dict()
        atomic_write_json(args.report, report)
    return 0


def _check_class_count(args: argparse.Namespace, model: Any) -> None:
    """Refuse, before any export or calibration, a model whose class count is not the data's
    (its mIoU before/after would be meaningless)."""
    if model is None:
        what, count = f"--onnx {args.onnx}", read_sidecar(args.onnx).get("num_classes")
        if not isinstance(count, int):
            raise ValueError(
                f"the sidecar of --onnx {args.onnx} names no class count (num_classes); "
                "re-export it with ffseg export"
            )
    else:
        what, count = f"--weights {args.weights}" if args.weights else args.model, model.num_classes
    data = dataset_from_args(args, args.val_split)
    if count != data.num_classes:
        raise ValueError(
            f"{what} is a {count}-class model but --data {args.data} --split {args.val_split} "
            f"has {data.num_classes} classes; quantize with data of {count} classes (folder "
            f"data: --classes with {count} names; synthetic: --num-classes {count}) or a model "
            "trained on this dataset"
        )


def _progress(done: int, total: int) -> None:
    if done % 10 == 0 or done == total:
        log.info("sensitivity: %d / %d variants measured", done, total)


def _fp32_onnx(args: argparse.Namespace, model: Any) -> tuple[Path, dict[str, Any]]:
    """The fp32 ONNX file to quantize (``--onnx``, or ``model`` exported next to ``--out``)
    and its sidecar."""
    if args.onnx:
        return Path(args.onnx), read_sidecar(args.onnx)
    out = Path(args.out)
    fp32 = out.with_name(out.stem + "_fp32.onnx")
    report = export_onnx(model, fp32, input_size_of(model, args.input_size))
    return fp32, read_sidecar(report.path)


def _run_quantize_openvino(args: argparse.Namespace) -> int:
    """``quantize --backend openvino``: export the model to IR next to ``--out``, quantize it
    with NNCF (accuracy-controlled with ``--max-drop``) and report both."""
    require_extra("openvino", "openvino", "nncf", purpose="ffseg quantize --backend openvino")
    from ffseg.deploy.openvino import export_openvino, quantize_and_compare_openvino

    out = Path(args.out)
    if args.onnx or out.suffix.lower() != ".xml":
        raise ValueError(
            f"--backend openvino quantizes --model/--weights into an IR: pass --out NAME.xml "
            f"(got {out}) and no --onnx"
        )
    if not args.data:
        raise ValueError("quantize needs calibration data: pass --data NAME --data-root DIR")
    _warn_untrained(args, "quantize")
    with torch_threads(args.threads):
        model = model_from_args(args)
        _check_class_count(args, model)
        hw = input_size_of(model, args.input_size)
        fp32 = out.with_name(out.stem + "_fp32.xml")
        export_openvino(model, fp32, hw)
        cfg = model.pretrained_cfg
        transforms = eval_transforms(cfg.mean, cfg.std, hw)
        calib = first_images(dataset_from_args(args, args.calib_split, transforms), args.num_images)
        val = dataset_from_args(args, args.val_split, transforms)
        val = Subset(val, range(min(args.num_val, len(val)))) if args.num_val else val
        report = quantize_and_compare_openvino(
            fp32,
            out,
            [c.numpy() for c in calib],
            DataLoader(val, args.batch_size),
            max_drop=args.max_drop,
            runs=args.runs,
            threads=args.threads,
        )
    print(report.summary())
    if args.report:
        atomic_write_json(args.report, report.to_dict())
    return 0


def _run_bench_artifact(args: argparse.Namespace) -> int:
    """``bench --weights FILE`` for an exported file: its latency as it runs (the backend and
    precision flags do not apply)."""
    options = dict(batch=args.batch_size, runs=args.runs, warmup=args.warmup)
    results = [
        benchmark_artifact(args.weights, size, threads=args.threads, **options)
        for size in args.input_size or [None]
    ]
    print(results_markdown(results))
    for out in args.out:
        print(f"wrote {write_results(results, out, machine_info(args.threads))}")
    return 0
