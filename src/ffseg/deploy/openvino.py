"""OpenVINO: IR export (verified after reload), a compiled-model runner and NNCF int8.

:func:`export_openvino` converts the folded, wrapped model to IR (``.xml`` + ``.bin``, fp32
weights) and verifies the reloaded IR like an ONNX export; :class:`OpenVinoModel` runs an IR
with its sidecar like a model; :func:`quantize_openvino` runs NNCF post-training quantization
and, with ``max_drop``, NNCF's accuracy-controlled quantization against the mIoU of a labelled
validation set; :func:`quantize_and_compare_openvino` also reports mIoU and latency before and
after and the layers left in fp32. Needs the ``openvino`` extra (``openvino``, ``nncf``).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ffseg._io import atomic_write, atomic_write_json
from ffseg.deploy.export_common import (
    DEFAULT_MIN_AGREEMENT,
    ExportReport,
    ExportVerificationError,
    export_verified,
    prepare_wrapper,
    verify_inputs,
)
from ffseg.deploy.exported import ExportedModel
from ffseg.deploy.extras import require_extra
from ffseg.deploy.model_info import (
    has_argmax_switches,
    input_size_of,
    model_name,
    supports_dynamic_shapes,
)
from ffseg.deploy.quantize import QuantizeResult, measure_exported
from ffseg.deploy.sidecar import read_sidecar, write_sidecar
from ffseg.engine.evaluate import InferenceSpec, evaluate

__all__ = [
    "OpenVinoModel",
    "OpenVinoQuantizeReport",
    "compile_ir",
    "export_openvino",
    "float_layers",
    "openvino_runner",
    "quantize_and_compare_openvino",
    "quantize_openvino",
]

log = logging.getLogger(__name__)

#: Operations NNCF quantizes; one whose data input is not fake-quantized runs in float.
_WEIGHTED_OPS = ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul")
_QUANTIZE_OPS = ("FakeQuantize", "FakeConvert")


def _ov() -> Any:
    require_extra("openvino", "openvino", purpose="OpenVINO")
    import openvino

    return openvino


class _SignalStack(ctypes.Structure):
    _fields_ = [("sp", ctypes.c_void_p), ("flags", ctypes.c_int), ("size", ctypes.c_size_t)]


_SS_DISABLE = 2


@contextlib.contextmanager
def signal_stack_kept() -> Iterator[None]:
    """Put the calling thread's alternate signal stack back as it was on entry.

    Each OpenVINO CPU plugin (one per ``openvino.Core``) installs its own alternate signal
    stack on the thread that first compiles with it and, when destroyed, restores the stack
    it saw then. Plugins destroyed out of creation order leave a freed stack installed, and
    the next Python signal (Ctrl-C, a child process exiting) kills the process with SIGSEGV.
    ffseg compiles through one :func:`_core` and wraps NNCF (which makes Cores of its own)
    in this guard, so a signal always lands on a live stack.
    """
    if not sys.platform.startswith("linux"):
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    saved = _SignalStack()
    have = libc.sigaltstack(None, ctypes.byref(saved)) == 0
    try:
        yield
    finally:
        if have:
            gc.collect()  # plugins released inside the guard restore their stacks first
            saved.flags &= _SS_DISABLE
            libc.sigaltstack(ctypes.byref(saved), None)


@functools.cache
def _core() -> Any:
    """The process's one ``openvino.Core`` (see :func:`signal_stack_kept` for why one)."""
    return _ov().Core()


def compile_ir(model: Any, threads: int | None = None) -> Any:
    """``model`` (an IR path or an ``openvino.Model``) compiled for the CPU in fp32 for latency.

    The precision hint stays fp32 (OpenVINO would otherwise run bf16 on CPUs that have it).
    """
    _ov()  # a clear error without the extra
    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    source = str(model) if isinstance(model, (str, os.PathLike)) else model
    try:
        with signal_stack_kept():
            return _core().compile_model(source, "CPU", config)
    except RuntimeError as exc:
        raise RuntimeError(
            f"OpenVINO cannot load {source}: {str(exc).splitlines()[0]}. "
            "Re-export it with `ffseg export --format openvino`."
        ) from exc


def _name_ports(model: Any) -> None:
    model.inputs[0].get_tensor().set_names({"input"})
    model.outputs[0].get_tensor().set_names({"output"})


def _convert(wrapper: nn.Module, example: torch.Tensor, dynamic: bool) -> Any:
    ov = _ov()
    shape = [-1, 3, -1, -1] if dynamic else list(example.shape)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        model = ov.convert_model(wrapper, example_input=example, input=[shape])
    _name_ports(model)
    return model


def _save_ir(model: Any, scratch: Path) -> Callable[[str], None]:
    """Save ``model`` as ``scratch/model.xml`` and return ``save(tmp)`` for
    :func:`export_verified`, which copies the XML to ``tmp``."""
    ov = _ov()
    ov.save_model(model, str(scratch / "model.xml"), compress_to_fp16=False)

    def save(tmp: str) -> None:
        shutil.copyfile(scratch / "model.xml", tmp)

    return save


def _place_bin(path: Path, scratch: Path) -> None:
    """Put ``scratch/model.bin`` beside ``path`` before the XML: an old XML is removed first, so
    a killed write never pairs an old XML with new weights (the XML, renamed last, completes
    the pair)."""
    path.unlink(missing_ok=True)
    atomic_write(path.with_suffix(".bin"), lambda t: shutil.copyfile(scratch / "model.bin", t))


def _ir_runner(path: Path, scratch: Path) -> Callable[[str], Callable[[torch.Tensor], np.ndarray]]:
    def load(tmp: str) -> Callable[[torch.Tensor], np.ndarray]:
        compiled = compile_ir(scratch / "model.xml")

        def run(x: torch.Tensor) -> np.ndarray:
            try:
                return compiled(x.numpy())[0]
            except RuntimeError as exc:
                raise ExportVerificationError(
                    f"OpenVINO failed to run {path} on input {tuple(x.shape)}: {exc}. "
                    "The file was not written."
                ) from exc

        return run

    return load


def export_openvino(
    model: nn.Module,
    path: str | os.PathLike[str],
    input_size: tuple[int, int] | None = None,
    *,
    batch: int = 1,
    output: str = "logits",
    resize_to_input: bool = False,
    dynamic: bool = False,
    verify_images: Sequence[torch.Tensor] | None = None,
    rtol: float = 1e-4,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    sidecar: bool = True,
) -> ExportReport:
    """Convert ``model`` to OpenVINO IR at ``path`` (``.xml``, weights in ``.bin``), verified.

    Same options and verification as :func:`ffseg.deploy.export_onnx.export_onnx`: the reloaded
    IR must match PyTorch (max abs diff within ``rtol`` of the largest logit, argmax agreement
    at least ``min_agreement``) on random inputs (three sizes and two batch sizes when
    ``dynamic``) and ``verify_images``, else nothing is written.
    """
    path = Path(path)
    if path.suffix.lower() != ".xml":
        raise ValueError(f"an OpenVINO IR is written as NAME.xml (+ NAME.bin), got {path}")
    size = input_size_of(model, input_size)
    if dynamic and not supports_dynamic_shapes(model):
        raise ValueError(
            f"model {model_name(model)} does not support dynamic shapes "
            "(supports_dynamic_shapes is False); export without --dynamic"
        )
    wrapper = prepare_wrapper(model, output, resize_to_input, size)
    example = torch.randn(batch, 3, *size)
    switches = wrapper if has_argmax_switches(model) else None
    inputs = [
        x if dynamic or x.shape[0] == batch else x[:1].expand(batch, -1, -1, -1).contiguous()
        for x in verify_inputs(size, batch, dynamic, verify_images, switches)
    ]
    with tempfile.TemporaryDirectory(prefix="ffseg-openvino-") as tmpdir:
        scratch = Path(tmpdir)
        save = _save_ir(_convert(wrapper, example, dynamic), scratch)
        report = export_verified(
            "openvino",
            path,
            wrapper,
            inputs,
            save,
            _ir_runner(path, scratch),
            output=output,
            rtol=rtol,
            min_agreement=min_agreement,
            before_replace=lambda: _place_bin(path, scratch),
        )
    if sidecar:
        options = dict(output=output, resize_to_input=resize_to_input, dynamic=dynamic)
        written = write_sidecar(model, path, size, verification=report, **options)
        report.sidecar = str(written)
    return report


class OpenVinoModel(ExportedModel):
    """An OpenVINO IR written by ``ffseg export`` (``.xml`` + ``.bin`` + sidecar), run on CPU."""

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None) -> None:
        super().__init__(path)
        self.compiled = compile_ir(self.path, threads)

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.compiled(x)[0]


def float_layers(model: Any) -> list[str]:
    """Names of the convolutions / matmuls of an ``openvino.Model`` whose data input is not
    fake-quantized, i.e. that run in float after NNCF quantization."""
    kept = []
    for op in model.get_ordered_ops():
        if op.get_type_name() not in _WEIGHTED_OPS:
            continue
        producer = op.input_value(0).get_node()
        if producer.get_type_name() not in _QUANTIZE_OPS:
            kept.append(op.get_friendly_name())
    return kept


def _dataset(items: Iterable[Any]) -> Any:
    require_extra("openvino", "nncf", purpose="OpenVINO int8 (NNCF)")
    import nncf

    return nncf.Dataset(list(items))


def _val_items(loader: Iterable[Any]) -> list[tuple[np.ndarray, torch.Tensor]]:
    """One ``(image [1,3,H,W] float32, mask [1,H,W])`` pair per image of a labelled loader."""
    items = []
    for images, masks in loader:
        images = images if images.dim() == 4 else images.unsqueeze(0)
        masks = masks if masks.dim() == 3 else masks.unsqueeze(0)
        for image, mask in zip(images, masks):
            items.append((np.ascontiguousarray(image[None].float().numpy()), mask[None]))
    return items


def _miou_fn(fp32_path: Path, threads: int | None) -> Callable[[Any, Iterable[Any]], float]:
    """NNCF's ``validation_fn``: the mIoU of a compiled model on ``(image, mask)`` items."""
    runner = OpenVinoModel(fp32_path, threads)  # its sidecar; NNCF passes each compiled model

    def validate(compiled: Any, items: Iterable[Any]) -> float:
        runner.compiled = compiled
        batches = [(torch.from_numpy(image), mask) for image, mask in items]
        spec = InferenceSpec.for_model(runner)  # the one input-size rule, as in every verb
        scores = evaluate(runner, batches, runner.num_classes, spec=spec)  # type: ignore[arg-type]
        return float(scores["miou"])

    return validate


def quantize_openvino(
    fp32_path: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    calibration: Sequence[np.ndarray],
    *,
    val_loader: Iterable[Any] | None = None,
    max_drop: float | None = None,
    threads: int | None = None,
    preset: str = "mixed",
) -> Path:
    """Quantize the IR ``fp32_path`` to int8 at ``int8_path`` with NNCF (sidecar copied).

    ``calibration``: normalised ``[1,3,H,W]`` arrays. With ``max_drop`` (mIoU points, e.g.
    ``1.0``) NNCF's accuracy-controlled quantization keeps layers in fp32 until the mIoU on
    ``val_loader`` (labelled, normalised batches) drops by at most that much.
    ``preset``: ``"mixed"`` (symmetric weights, asymmetric activations) or ``"performance"``.
    """
    ov = _ov()
    require_extra("openvino", "nncf", purpose="OpenVINO int8 (NNCF)")
    import nncf

    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    if not fp32_path.is_file():
        raise FileNotFoundError(f"OpenVINO IR not found: {fp32_path} (see `ffseg export`)")
    if int8_path.suffix.lower() != ".xml":
        raise ValueError(f"an OpenVINO IR is written as NAME.xml (+ NAME.bin), got {int8_path}")
    arrays = [np.ascontiguousarray(a, np.float32) for a in calibration]
    if not arrays:
        raise ValueError("no calibration images: pass a dataset with at least one image")
    presets = {
        "mixed": nncf.QuantizationPreset.MIXED,
        "performance": nncf.QuantizationPreset.PERFORMANCE,
    }
    if preset not in presets:
        raise ValueError(f"preset must be one of {sorted(presets)}, got {preset!r}")
    model = _core().read_model(str(fp32_path))
    options = dict(preset=presets[preset], subset_size=len(arrays))
    calib = _dataset(arrays)
    if max_drop is not None and val_loader is None:
        raise ValueError("max_drop needs a labelled validation set (val_loader)")
    if max_drop is not None and max_drop < 0:
        raise ValueError(f"max_drop is in mIoU points and must be >= 0, got {max_drop}")
    with signal_stack_kept():  # NNCF compiles with Cores of its own
        if max_drop is None:
            quantized = nncf.quantize(model, calib, **options)
        else:
            quantized = nncf.quantize_with_accuracy_control(
                model,
                calib,
                _dataset(_val_items(val_loader)),  # type: ignore[arg-type]
                _miou_fn(fp32_path, threads),
                max_drop=max_drop / 100.0,
                drop_type=nncf.DropType.ABSOLUTE,
                **options,
            )
    kept = float_layers(quantized)
    with tempfile.TemporaryDirectory(prefix="ffseg-openvino-") as tmpdir:
        scratch = Path(tmpdir)
        ov.save_model(quantized, str(scratch / "model.xml"), compress_to_fp16=False)
        _place_bin(int8_path, scratch)
        atomic_write(int8_path, lambda t: shutil.copyfile(scratch / "model.xml", t))
    sidecar = fp32_path.with_suffix(".json")
    if sidecar.is_file() and sidecar != int8_path.with_suffix(".json"):
        meta = read_sidecar(fp32_path)
        meta["quantization"] = {
            "tool": "nncf",
            "preset": preset,
            "calibration_images": len(arrays),
            "max_drop": max_drop,
            "float_layers": kept,
        }
        atomic_write_json(int8_path.with_suffix(".json"), meta)
    return int8_path


@dataclass
class OpenVinoQuantizeReport:
    """fp32 vs NNCF int8 IR: mIoU, latency, and the layers left in fp32."""

    fp32: QuantizeResult
    int8: QuantizeResult
    input_size: list[int]
    max_drop: float | None = None
    float_layers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def speedup(self) -> float:
        return self.fp32.median_ms / self.int8.median_ms

    def summary(self) -> str:
        """A small table plus the speed-up, the mIoU change and the fp32 layers."""
        lines = [f"{'':6s} {'mIoU':>8s} {'aAcc':>8s} {'median ms':>10s}"]
        for key, r in (("fp32", self.fp32), ("int8", self.int8)):
            lines.append(f"{key:6s} {r.miou * 100:8.2f} {r.aacc * 100:8.2f} {r.median_ms:10.1f}")
        change = (self.int8.miou - self.fp32.miou) * 100
        target = f" (max drop {self.max_drop:g})" if self.max_drop is not None else ""
        kept = ", ".join(self.float_layers) if self.float_layers else "none"
        lines.append(
            f"OpenVINO speed-up {self.speedup:.2f}x, mIoU change {change:+.2f} points{target}; "
            f"layers kept in fp32: {kept}; wrote {self.int8.path}"
        )
        return "\n".join(lines)


def _measure(
    path: Path, loader: Iterable[Any], example: np.ndarray, runs: int, threads: int | None
) -> QuantizeResult:
    return measure_exported(OpenVinoModel(path, threads=threads), loader, example, runs)


def quantize_and_compare_openvino(
    fp32_path: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    calibration: Sequence[np.ndarray],
    val_loader: Iterable[Any],
    *,
    max_drop: float | None = None,
    runs: int = 20,
    threads: int | None = None,
    **options: Any,
) -> OpenVinoQuantizeReport:
    """:func:`quantize_openvino`, then mIoU on ``val_loader`` and median latency of both IRs."""
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    quantize_openvino(
        fp32_path,
        int8_path,
        calibration,
        val_loader=val_loader,
        max_drop=max_drop,
        threads=threads,
        **options,
    )
    example = np.ascontiguousarray(calibration[0], np.float32)
    kept = float_layers(_core().read_model(str(int8_path)))
    return OpenVinoQuantizeReport(
        fp32=_measure(fp32_path, val_loader, example, runs, threads),
        int8=_measure(int8_path, val_loader, example, runs, threads),
        input_size=list(read_sidecar(fp32_path)["input_size"]),
        max_drop=max_drop,
        float_layers=kept,
    )


def openvino_runner(
    model: nn.Module,
    precision: str,
    x: torch.Tensor,
    *,
    threads: int,
    workdir: Path,
    calibration: Callable[[], Sequence[np.ndarray]],
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A benchmark runner: ``model`` exported to IR in ``workdir`` at ``x``'s shape (cached),
    NNCF-quantized for ``precision="int8"`` (``calibration()`` gives the arrays)."""
    size = (int(x.shape[-2]), int(x.shape[-1]))
    fp32 = workdir / f"{model_name(model)}_{size[0]}x{size[1]}_b{x.shape[0]}.xml"
    if not fp32.is_file():
        export_openvino(model, fp32, size, batch=x.shape[0], sidecar=False)
    path = fp32
    if precision == "int8":
        path = fp32.with_name(fp32.stem + "_int8.xml")
        if not path.is_file():
            quantize_openvino(fp32, path, calibration())
    compiled = compile_ir(path, threads)

    def run(inp: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(compiled(inp.cpu().numpy())[0])

    return run
