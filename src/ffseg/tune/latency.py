"""Latency of an architecture, measured once with ffseg's benchmark and cached in the study folder.

The cache key is the architecture (model name, constructor arguments, class count) and the
measurement settings (backend, precision, input size, threads); every worker of a study reads
and writes the same ``<study>/latency/<key>.json`` files, so an architecture is timed once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from torch import nn

from ffseg._io import atomic_write_json
from ffseg.deploy.bench import VALID_PRECISIONS, benchmark_model, load_bench_model
from ffseg.models import is_model

__all__ = ["LatencyCache", "LatencySpec"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatencySpec:
    """How latency is measured: one image of ``size`` (H, W) on ``backend`` at ``precision``."""

    backend: str = "eager"
    precision: str = "fp32"
    size: tuple[int, int] | None = None  # default: the recipe's data.crop_size
    runs: int = 20
    warmup: int = 3
    threads: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.backend not in VALID_PRECISIONS:
            raise ValueError(
                f"latency backend {self.backend!r} is unknown; use one of "
                f"{', '.join(VALID_PRECISIONS)}"
            )
        if self.precision not in VALID_PRECISIONS[self.backend]:
            raise ValueError(
                f"latency precision {self.precision!r} does not run on {self.backend}; use one "
                f"of {', '.join(VALID_PRECISIONS[self.backend])}"
            )
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            raise ValueError(f"latency size {self.size!r} must be two positive ints (H, W)")


class LatencyCache:
    """Median latency (ms) per architecture, stored as JSON files under ``folder``."""

    def __init__(self, folder: str | Path, spec: LatencySpec) -> None:
        self.folder = Path(folder)
        self.spec = spec

    def _key(self, name: str, kwargs: dict[str, Any], num_classes: int, size: tuple[int, int]):
        arch = {"model": name, "kwargs": kwargs, "num_classes": num_classes, "size": list(size)}
        what = {**arch, **asdict(self.spec), "size": list(size)}
        digest = hashlib.sha1(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()
        return self.folder / f"{digest[:16]}.json", what

    def get(
        self,
        name: str,
        size: tuple[int, int],
        *,
        kwargs: dict[str, Any] | None = None,
        num_classes: int | None = None,
        model: nn.Module | None = None,
    ) -> float:
        """The cached latency of this architecture, measured now when it is not cached yet: on
        a freshly built model for registered names, else on ``model`` (e.g. the trained one)."""
        path, what = self._key(name, kwargs or {}, num_classes or 0, size)
        if path.is_file():
            try:
                return float(json.loads(path.read_text())["median_ms"])
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("latency cache %s is unreadable; measuring again", path)
        if model is None or (is_model(name) and not set(kwargs or {}) - {"init"}):
            model = load_bench_model(name, num_classes=num_classes)  # the same for every trial
        model = model.float()
        spec = self.spec
        (result,) = benchmark_model(
            model.cpu() if spec.device == "cpu" else model,
            size,
            backends=(spec.backend,),
            precisions=(spec.precision,),
            runs=spec.runs,
            warmup=spec.warmup,
            threads=spec.threads,
            device=spec.device,
        )
        if result.error or not math.isfinite(result.median_ms):
            raise RuntimeError(
                f"latency of {name} on {spec.backend}/{spec.precision} could not be measured: "
                f"{result.error or 'no timing'}; choose another --latency-backend"
            )
        atomic_write_json(path, {**what, "median_ms": result.median_ms, "p90_ms": result.p90_ms})
        return float(result.median_ms)
