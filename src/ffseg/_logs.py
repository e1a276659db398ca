"""The one logging setup of the ``ffseg`` command (bottom layer: imports nothing of ffseg).

:func:`configure_logging` sends ffseg's lines to stderr at INFO (DEBUG with ``-v``) and keeps
third-party libraries' INFO lines (onnxscript, optuna, matplotlib...) out unless ``-v``.
"""

from __future__ import annotations

import logging

__all__ = ["QUIET_LOGGERS", "configure_logging"]

#: Libraries whose INFO lines are silenced (WARNING and above still show) unless verbose.
QUIET_LOGGERS = (
    "onnxscript",
    "onnx_ir",
    "onnxruntime",
    "torch.onnx",
    "torch._dynamo",
    "torch._export",
    "optuna",
    "matplotlib",
    "PIL",
    "urllib3",
    "fsspec",
)


def configure_logging(verbose: bool = False) -> None:
    """Log ffseg's INFO lines (DEBUG if ``verbose``) as ``LEVEL name: message``; third-party
    loggers in :data:`QUIET_LOGGERS` show warnings only, unless ``verbose``."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # also where the root logger was configured before (basicConfig then does nothing)
    logging.getLogger("ffseg").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
