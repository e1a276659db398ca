"""Measuring and preparing models for deployment.

Submodules: ``flops`` (MACs/params), ``fuse`` (BN folding), ``export`` (ONNX / TorchScript /
torch.export), ``quantize`` (ONNX Runtime INT8), ``bench`` (latency), ``ort`` (sessions).
"""

from ffseg.deploy.flops import count_macs, count_params
from ffseg.deploy.fuse import fold_batchnorm, prepare_for_inference

__all__ = ["count_macs", "count_params", "fold_batchnorm", "prepare_for_inference"]
