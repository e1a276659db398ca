"""Export matrix: every registered zoo model (one FFNet per family) through every artifact
format, with parity figures and the reason of each failure.

    python scripts/export_matrix.py --out docs/EXPORT_MATRIX.md

Formats: ONNX static, ONNX dynamic (batch/height/width), ``torch.export`` (.pt2), ONNX Runtime
int8 (QDQ, quantized from the static ONNX file) and, where the export module offers it and
``openvino`` is importable, OpenVINO IR. Every export is verified by ffseg against PyTorch
(max abs diff of the logits, argmax agreement); int8 is compared with the fp32 ONNX file.
Weights are random (He init), inputs random: the figures show that an artifact reproduces its
source, not accuracy. ``--jobs`` is not offered on purpose: one model at a time keeps the
timings of a shared machine readable.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import ffseg
from ffseg._io import atomic_write_text
from ffseg.deploy.export import EXPORT_FORMATS, compare_outputs, export_model
from ffseg.deploy.ort import ort_session
from ffseg.deploy.quantize import quantize_onnx

DOC = Path(__file__).resolve().parents[1] / "docs" / "EXPORT_MATRIX.md"
_FFNET = re.compile(r"ffnet\d+(ns|n|s)?_")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Cell:
    """One model x format: whether it worked, its parity figures or its failure reason."""

    model: str
    format: str
    ok: bool
    max_abs_diff: float | None = None
    argmax_agreement: float | None = None
    seconds: float = 0.0
    reason: str = ""


def matrix_models(names: Sequence[str] | None = None) -> list[str]:
    """Every registered model except FFNets, plus the first FFNet of each family (backbone
    family ``""``/``s``/``n``/``ns`` x mobile or not)."""
    chosen, families = [], set()
    for name in names if names is not None else ffseg.list_models():
        match = _FFNET.match(name)
        if match:
            family = (match.group(1) or "", name.endswith("_mobile"))
            if family in families or "_pre_down" in name:
                continue
            families.add(family)
        chosen.append(name)
    return chosen


def _reason(exc: BaseException) -> str:
    """The failure in one line: the exception type and the first line of its message, followed
    by the root cause's (exporters wrap the real error in a generic one), colours stripped."""

    def line(e: BaseException) -> str:
        text = _ANSI.sub("", str(e)).strip()
        return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}".strip()

    root = exc
    while root.__cause__ is not None and root.__cause__ is not root:
        root = root.__cause__
    text = line(exc) if root is exc else f"{line(exc)} <- {line(root)}"
    return text[:300]


def _int8(model: torch.nn.Module, size: tuple[int, int], tmp: Path) -> tuple[float, float]:
    """Quantize the static ONNX export and compare it with the fp32 file on random inputs."""
    fp32 = tmp / "onnx.onnx"  # written by the "onnx" column when it ran first
    if not fp32.is_file():
        export_model(model, fp32, size, format="onnx")
    rng = np.random.default_rng(0)
    calib = [rng.normal(0, 1, (1, 3, *size)).astype(np.float32) for _ in range(4)]
    int8 = quantize_onnx(fp32, tmp / "int8.onnx", calib)
    ref, got = ort_session(fp32), ort_session(int8)
    diffs, agrees = [], []
    for x in calib[:2]:
        diff, agree = compare_outputs(
            ref.run(None, {"input": x})[0], got.run(None, {"input": x})[0]
        )
        diffs.append(diff)
        agrees.append(agree)
    return max(diffs), float(np.mean(agrees))


def _formats() -> dict[str, Callable[[torch.nn.Module, tuple[int, int], Path], tuple]]:
    """Format name -> ``run(model, size, tmp) -> (max abs diff, argmax agreement)``."""

    def exported(suffix: str, fmt: str, **kw: object) -> Callable:
        def run(model: torch.nn.Module, size: tuple[int, int], tmp: Path) -> tuple:
            report = export_model(model, tmp / f"{fmt}{suffix}", size, format=fmt, **kw)
            return report.max_abs_diff, report.argmax_agreement

        return run

    formats = {
        "onnx": exported(".onnx", "onnx"),
        "onnx dynamic": exported("_dyn.onnx", "onnx", dynamic=True),
        "torch.export": exported(".pt2", "torch.export"),
        "ort int8": _int8,
    }
    if "openvino" in EXPORT_FORMATS.values() and importlib.util.find_spec("openvino"):
        formats["openvino"] = exported(".xml", "openvino")
    return formats


def run_matrix(
    models: Sequence[str],
    size: tuple[int, int] = (128, 192),
    formats: Sequence[str] | None = None,
    progress: Callable[[Cell], None] | None = None,
) -> list[Cell]:
    """Export each of ``models`` (random weights, 19 classes) to each of ``formats`` (default:
    all available) at ``size``; a failure is recorded with its reason, never raised."""
    available = _formats()
    unknown = sorted(set(formats or ()) - set(available))
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; choose from {sorted(available)}")
    cells = []
    for name in models:
        with tempfile.TemporaryDirectory(prefix="ffseg-matrix-") as scratch:
            try:
                torch.manual_seed(0)
                model = ffseg.create_model(name).eval()
                min_h, min_w = model.pretrained_cfg.min_input_size
                hw = (max(size[0], min_h), max(size[1], min_w))
            except Exception as exc:
                model, reason = None, _reason(exc)
            for fmt in formats or available:
                start = time.perf_counter()
                if model is None:
                    cell = Cell(name, fmt, False, reason=f"model does not build: {reason}")
                else:
                    try:
                        diff, agree = available[fmt](model, hw, Path(scratch))
                        cell = Cell(name, fmt, True, float(diff), float(agree))
                    except Exception as exc:
                        cell = Cell(name, fmt, False, reason=_reason(exc))
                        if os.environ.get("FFSEG_MATRIX_TRACEBACK"):
                            traceback.print_exc()
                cell.seconds = time.perf_counter() - start
                cells.append(cell)
                if progress:
                    progress(cell)
    return cells


def _versions() -> str:
    import onnx
    import onnxruntime

    parts = [
        f"ffseg {ffseg.__version__}",
        f"torch {torch.__version__}",
        f"onnx {onnx.__version__}",
        f"onnxruntime {onnxruntime.__version__}",
    ]
    if importlib.util.find_spec("openvino"):
        import openvino

        parts.append(f"openvino {openvino.__version__}")
    return ", ".join(parts)


def markdown(cells: Sequence[Cell], command: str, size: tuple[int, int]) -> str:
    """The matrix as markdown: one row per model, one column per format, failures listed."""
    formats = list(dict.fromkeys(c.format for c in cells))
    models = list(dict.fromkeys(c.model for c in cells))
    by = {(c.model, c.format): c for c in cells}
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.machine(),
        )
        if Path("/proc/cpuinfo").is_file()
        else platform.machine()
    )
    ok = {f: sum(by[m, f].ok for m in models if (m, f) in by) for f in formats}
    lines = [
        "# Export matrix",
        "",
        "Generated by `scripts/export_matrix.py` (do not edit by hand):",
        "",
        f"```bash\n{command}\n```",
        "",
        f"- machine: {cpu}, {os.cpu_count()} logical cores, {platform.system()}; "
        f"python {platform.python_version()}; {_versions()}",
        f"- input 1x3x{size[0]}x{size[1]} (or the model's minimum), random weights and inputs, "
        "19 classes; each cell: `max abs diff / argmax agreement` of the artifact against "
        "PyTorch (int8: against the fp32 ONNX file, so its figures measure quantization "
        "error on random weights, not accuracy); dynamic ONNX is verified at two sizes",
        f"- {len(models)} models: every registered model except FFNets, plus one FFNet per "
        "family; " + ", ".join(f"{f} {ok[f]}/{len(models)} work" for f in formats),
        "",
        "| model | " + " | ".join(formats) + " |",
        "|---|" + "---|" * len(formats),
    ]
    for m in models:
        row = []
        for f in formats:
            c = by.get((m, f))
            if c is None:
                row.append("")
            elif c.ok:
                row.append(f"ok {c.max_abs_diff:.1e} / {c.argmax_agreement * 100:.2f} %")
            else:
                row.append("**fails** (below)")
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    failures = [c for c in cells if not c.ok]
    lines += ["", "## Failures", ""]
    lines += [f"- {c.model}, {c.format}: {c.reason}" for c in failures] or ["None."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", help="these models only (default: the whole matrix)")
    p.add_argument("--formats", nargs="*", help="these formats only (default: all available)")
    p.add_argument("--size", type=int, nargs=2, default=[128, 192], metavar=("H", "W"))
    p.add_argument("--out", type=Path, default=DOC, help="markdown file to write")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    models = matrix_models(args.models)
    size = (args.size[0], args.size[1])

    command = "python scripts/export_matrix.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    done: list[Cell] = []

    def show(cell: Cell) -> None:  # the file is rewritten after each cell: a long run that is
        done.append(cell)  # stopped early still leaves the rows it finished
        status = "ok" if cell.ok else f"FAIL {cell.reason}"
        print(f"{cell.model:28s} {cell.format:13s} {cell.seconds:6.1f}s {status}", flush=True)
        atomic_write_text(args.out, markdown(done, command.strip(), size))

    run_matrix(models, size, args.formats, progress=show)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
