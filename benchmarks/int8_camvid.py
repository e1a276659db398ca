"""Deploy a trained CamVid model: eager, ONNX Runtime and OpenVINO in fp32 and int8 (ONNX
Runtime before/after ffseg's int8 defaults), each with CamVid val mIoU, median latency and % of
the measured conv peak.

    python benchmarks/int8_camvid.py --weights runs/camvid_15min_cpu \\
        --data-root /path/to/camvid --threads 2 --out docs/benchmarks/deploy.md

Writes (replaces) the ``<!-- int8_camvid -->`` section of ``--out`` and a JSON file beside it.
The int8 variants: ``before`` = the settings ffseg used until the fix (full-range 8-bit weights),
the same file on ONNX Runtime's non-saturating U8U8 kernels, ``after`` = today's defaults
(7-bit weights), and ``after`` plus ``--exclude-node`` names (e.g. from ``ffseg quantize
--sensitivity``). OpenVINO rows (fp32 IR, NNCF int8) when the ``openvino`` extra is installed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _report import environment, write_section
from torch.utils.data import DataLoader, Subset

from ffseg.data import build_dataset, eval_transforms
from ffseg.deploy.bench import measure_peak
from ffseg.deploy.export import export_onnx
from ffseg.deploy.flops import count_macs
from ffseg.deploy.ort import OnnxModel, ort_session
from ffseg.deploy.quantize import quantize_onnx
from ffseg.deploy.runtime import flushed_denormals, time_fn, torch_threads
from ffseg.deploy.samples import first_images
from ffseg.deploy.sensitivity import PRECISE_KERNELS
from ffseg.engine.evaluate import evaluate
from ffseg.models import load_model

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "deploy.md"


def openvino_rows(
    model: torch.nn.Module,
    tmp: Path,
    calib: list[Any],
    loader: DataLoader,
    example: Any,
    threads: int,
    max_drop: float | None = None,
) -> list[tuple[dict, Callable[[], Any]]]:
    """``(row, runner)`` for OpenVINO fp32 and NNCF int8 (default preset; with ``max_drop``
    also NNCF's accuracy-controlled int8 against val mIoU), or none without the ``openvino``
    extra: the row as :func:`_row` makes it, the runner one inference on ``example``."""
    try:
        import nncf  # noqa: F401
        import openvino  # noqa: F401
    except ImportError:
        print("OpenVINO rows skipped: pip install 'ffseg[openvino]'", file=sys.stderr)
        return []
    from ffseg.deploy.openvino import OpenVinoModel, export_openvino, quantize_openvino

    fp32 = tmp / "model.xml"
    export_openvino(model, fp32, tuple(example.shape[-2:]))
    int8 = quantize_openvino(fp32, tmp / "model_int8.xml", calib, threads=threads)
    variants = [(fp32, "fp32", ""), (int8, "int8", "NNCF, mixed preset")]
    if max_drop is not None:  # NNCF's accuracy control: layers back to fp32 until within it
        kept = quantize_openvino(
            fp32, tmp / "model_int8_ac.xml", calib, val_loader=loader, max_drop=max_drop,
            threads=threads,
        )  # fmt: skip
        variants.append((kept, "int8", f"NNCF accuracy control, max drop {max_drop:g}"))
    out = []
    for path, precision, note in variants:
        runtime = OpenVinoModel(path, threads=threads)
        miou = evaluate(runtime, loader, runtime.num_classes)["miou"]
        compiled = runtime.compiled
        out.append((_row("OpenVINO", precision, miou, note), lambda c=compiled: c(example)))
    return out


def _row(backend: str, precision: str, miou: float, note: str = "") -> dict:
    return dict(backend=backend, precision=precision, miou=miou * 100, note=note)


def _miou(path: Path, loader: DataLoader, threads: int, config: dict | None = None) -> float:
    model = OnnxModel(path, threads=threads, config=config)
    return evaluate(model, loader, model.num_classes)["miou"]


def _ort_runner(path: Path, example: Any, threads: int, config: dict | None = None) -> Callable:
    session = ort_session(path, threads=threads, config=config)
    return lambda: session.run(None, {"input": example})


def _variants(args: argparse.Namespace) -> list[tuple[str, dict, dict | None]]:
    """(name, quantize_onnx options, session config) of each int8 row."""
    base = dict(per_channel=True, method=args.method)
    rows = [
        ("before: 8-bit weights", {**base, "reduce_range": False}, None),
        ("before, U8U8 kernels", {**base, "reduce_range": False}, PRECISE_KERNELS),
        ("after: 7-bit weights (default)", {**base, "reduce_range": True}, None),
    ]
    if args.exclude_node:
        opts = {**base, "reduce_range": True, "exclude_nodes": args.exclude_node}
        rows.append((f"after + {len(args.exclude_node)} nodes in float", opts, None))
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    start = time.time()
    model = load_model(args.weights).eval()
    hw = tuple(args.size)
    cfg = model.pretrained_cfg
    tf = eval_transforms(cfg.mean, cfg.std, hw)
    calib = [
        c.numpy()
        for c in first_images(build_dataset("camvid", args.data_root, "train", tf), args.num_calib)
    ]
    val = build_dataset("camvid", args.data_root, "val", tf)
    val = Subset(val, range(min(args.num_val, len(val)))) if args.num_val else val
    loader = DataLoader(val, 1)
    example = calib[0]
    rows: list[dict] = []
    runners: list[Callable[[], Any]] = []  # one per row, timed round-robin at the end
    with (
        torch_threads(args.threads) as threads,
        flushed_denormals(),
        tempfile.TemporaryDirectory() as tmp,
    ):
        peak = measure_peak(threads, runs=10, dtypes=("fp32",))["conv3x3_fp32"]
        macs = count_macs(model, hw)
        x = torch.from_numpy(example)
        with torch.inference_mode():
            eager = evaluate(model, loader, model.num_classes)
        rows.append(_row("PyTorch eager", "fp32", eager["miou"]))
        runners.append(lambda: model(x))
        fp32 = Path(tmp) / "model.onnx"
        export_onnx(model, fp32, hw)
        rows.append(_row("ONNX Runtime", "fp32", _miou(fp32, loader, threads)))
        runners.append(_ort_runner(fp32, example, threads))
        int8 = Path(tmp) / "model_int8.onnx"
        for i, (name, options, config) in enumerate(_variants(args)):
            path = Path(tmp) / f"model_int8_{i}.onnx"
            if config is None:  # a config row re-runs the previous row's file on other kernels
                int8 = quantize_onnx(fp32, path, calib, **options)
            rows.append(_row("ONNX Runtime", "int8", _miou(int8, loader, threads, config), name))
            runners.append(_ort_runner(int8, example, threads, config))
        ov = openvino_rows(model, Path(tmp), calib, loader, example, threads, args.ov_max_drop)
        for row, runner in ov:
            rows.append(row)
            runners.append(runner)
        times: list[list[float]] = [[] for _ in runners]
        with torch.inference_mode():
            for fn in runners:
                time_fn(fn, 0, warmup=3)
            for _ in range(args.runs):  # round-robin: a busy machine slows every row alike
                for fn, acc in zip(runners, times, strict=True):
                    acc += time_fn(fn, 1, warmup=0)
        for row, acc in zip(rows, times, strict=True):
            row["median_ms"] = statistics.median(acc)
    ort_fp32 = rows[1]
    for row in rows:
        row["gflops"] = 2 * macs / (row["median_ms"] / 1000) / 1e9
        row["pct_peak"] = 100 * row["gflops"] / peak
        row["speedup_vs_ort_fp32"] = ort_fp32["median_ms"] / row["median_ms"]
        row["miou_drop"] = ort_fp32["miou"] - row["miou"]
    return dict(
        rows=rows,
        peak_conv3x3_fp32=peak,
        gmacs=macs / 1e9,
        images=len(val),
        threads=threads,
        input_size=list(hw),
        weights=str(args.weights),
        seconds=time.time() - start,
        model=cfg.architecture,
    )


def runtime_versions() -> str:
    """``onnxruntime X, openvino Y, nncf Z`` for the runtimes installed."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("onnxruntime", "openvino", "nncf"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def markdown(result: dict[str, Any], command: str) -> str:
    lines = [
        f"## Trained weights: {result['model']} on CamVid (eager, ONNX Runtime, OpenVINO)",
        "",
        f"Generated by `benchmarks/int8_camvid.py` in {result['seconds'] / 60:.0f} min:",
        "",
        f"```bash\n{command}\n```",
        "",
        environment(),
        f"- weights: `{result['weights']}`; input 1x3x{result['input_size'][0]}x"
        f"{result['input_size'][1]} ({result['gmacs']:.2f} GMACs); mIoU on "
        f"{result['images']} CamVid val images at full resolution; latency = median of the "
        "timed runs, every row timed round-robin in one process (a busy machine slows all rows "
        f"alike), {runtime_versions()}, "
        f"{result['threads']} threads; peak = measured 3x3-conv fp32 "
        f"{result['peak_conv3x3_fp32']:.1f} GFLOP/s in the same run (int8 rows use the same "
        "fp32 peak, so their % is a speed comparison, not an int8 ceiling)",
        "",
        "| backend | precision | variant | CamVid val mIoU | drop vs ORT fp32 | median ms "
        "| x ORT fp32 | % of peak |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['backend']} | {r['precision']} | {r['note'] or '-'} | {r['miou']:.2f} "
            f"| {r['miou_drop']:+.2f} | {r['median_ms']:.1f} | {r['speedup_vs_ort_fp32']:.2f}x "
            f"| {r['pct_peak']:.0f} % |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="trained run folder or checkpoint")
    p.add_argument("--data-root", required=True, help="CamVid folder")
    p.add_argument("--size", type=int, nargs=2, default=[360, 480], metavar=("H", "W"))
    p.add_argument("--num-calib", type=int, default=32, help="calibration images (train)")
    p.add_argument("--num-val", type=int, help="val images (default: all 101)")
    p.add_argument("--method", default="minmax", help="calibration method")
    p.add_argument("--exclude-node", action="append", default=[], help="extra 'after' row")
    p.add_argument("--runs", type=int, default=20, help="timed runs per row")
    p.add_argument(
        "--ov-max-drop", type=float, help="add NNCF accuracy-controlled int8 (mIoU points)"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=DOC, help="markdown file (section replaced)")
    args = p.parse_args(argv)
    result = run(args)
    command = "python benchmarks/int8_camvid.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    text = markdown(result, command)
    print(text)
    write_section("int8_camvid", text, doc=args.out)
    args.out.with_name(args.out.stem + "_int8_camvid.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
