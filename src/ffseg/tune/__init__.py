"""Hyper-parameter and design-space search with Optuna (``ffseg tune``, ``ffseg.tune(...)``).

``space`` reads the YAML search space; ``objective`` trains one trial as a normal run folder
(pruned from its evaluations, latency from ``latency``'s cache); ``study`` opens the storage and
runs a worker; ``report`` writes ``trials.csv``, the best recipes and plots; ``api`` joins them.
Optuna is an optional extra (``pip install 'ffseg[tune]'``), imported only when a study runs.
See docs/TUNING.md.
"""

import sys
import types
from typing import Any

from ffseg.tune.api import TuneResult, parse_objectives, tune
from ffseg.tune.latency import LatencyCache, LatencySpec
from ffseg.tune.report import Reference
from ffseg.tune.space import Param, SearchSpace, SpaceError, design_space_names, load_space

__all__ = [
    "LatencyCache",
    "LatencySpec",
    "Param",
    "Reference",
    "SearchSpace",
    "SpaceError",
    "TuneResult",
    "design_space_names",
    "load_space",
    "parse_objectives",
    "tune",
]


class _CallableModule(types.ModuleType):
    """``ffseg.tune(...)`` keeps working after ``import ffseg.tune`` made the attribute this
    package (Python sets a package's submodule as its attribute on import)."""

    def __call__(self, *args: Any, **kwargs: Any) -> TuneResult:
        return tune(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
