"""Measuring and preparing models for deployment.

Submodules: ``flops`` (MACs/params), ``fuse`` (BN folding), ``export`` (one verified-export
function; one module per format: ``export_onnx``, ``openvino``, ``export_torchscript``,
``export_program``, with the wrapper and verification they share in ``export_common``),
``sidecar`` (the JSON next to an artifact), ``exported`` / ``artifacts`` (exported files called
like a model; ``load_artifact``, the one loader), ``openvino`` (also OpenVINO's runner and NNCF
int8), ``quantize`` (ONNX Runtime INT8), ``bench`` (latency), ``report`` (result files, Pareto
plot), ``ort`` (sessions, :class:`OnnxModel`), ``model_info`` (name, input sizes, capabilities),
``runtime`` (timing, thread and denormal settings), ``samples`` (real images).
"""

from ffseg.deploy.flops import count_macs, count_params
from ffseg.deploy.fuse import fold_batchnorm, prepare_for_inference
from ffseg.deploy.model_info import check_input_size
from ffseg.deploy.ort import OnnxModel

__all__ = [
    "OnnxModel",
    "check_input_size",
    "count_macs",
    "count_params",
    "fold_batchnorm",
    "prepare_for_inference",
]
