"""Run checkpoints: what ``last.pt`` holds, how it is written, read and restored.

Only finite weights are written: a run whose weights diverged keeps its previous ``last.pt``
(:class:`NonFiniteWeightsError`). Beside ``best.safetensors`` the run folder holds a
``config.json`` (the model's ``pretrained_cfg``: architecture, build arguments, classes,
palette, mean/std, input size), so ``ffseg.load_model(run_dir)`` rebuilds the best model.

``last.pt`` holds plain containers of tensors and numbers only (no pickled objects), so it is
loaded with ``weights_only=True``: model, EMA, optimizer, scheduler, GradScaler, the
:class:`~ffseg.engine.state.TrainState`, every rank's RNG states and the resolved config. Every
write goes through :func:`ffseg._io.atomic_write`: a run killed at any moment leaves the
previous file.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import save
from torch import nn

from ffseg._io import atomic_write_bytes, atomic_write_json
from ffseg.engine.distributed import DistInfo
from ffseg.engine.ema import ModelEMA
from ffseg.engine.state import TrainState

__all__ = [
    "BEST",
    "CHECKPOINT",
    "MODEL_CONFIG",
    "NonFiniteWeightsError",
    "RunCheckpoint",
    "TrainParts",
    "capture_rng_state",
    "load_checkpoint",
    "load_run",
    "restore_rng_state",
    "restore_run_state",
    "run_state",
    "save_checkpoint",
    "save_weights",
]

CHECKPOINT = "last.pt"  # the resumable state of a run
BEST = "best.safetensors"  # the best-scoring weights of a run
MODEL_CONFIG = "config.json"  # what rebuilds the best model (ffseg.load_model(run_dir))
FORMAT_VERSION = 1


class NonFiniteWeightsError(RuntimeError):
    """The weights hold NaN or infinite values; no checkpoint was written."""


def _non_finite(module: nn.Module) -> list[str]:
    return [
        k
        for k, v in module.state_dict().items()
        if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]


def save_checkpoint(state: Mapping[str, Any], path: str | Path) -> Path:
    """``torch.save`` ``state`` to ``path`` atomically (serialised in memory first, so a full
    disk or an unwritable folder is a :class:`~ffseg._io.FileWriteError` naming the path)."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {str(path)!r} not found; --resume expects a run folder containing last.pt"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise RuntimeError(
            f"cannot read checkpoint {str(path)!r}: {type(exc).__name__}: {exc}. It is not an "
            "ffseg checkpoint or it is corrupt (ffseg writes atomically, so check the file's "
            "origin)."
        ) from exc


def save_weights(
    state_dict: Mapping[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None
) -> Path:
    """Write a state_dict as ``.safetensors`` atomically (weights only)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    return atomic_write_bytes(path, save(tensors, metadata=metadata))


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU + CUDA) RNG states as tensors / lists / numbers."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((int(version), tuple(int(x) for x in internal), gauss))
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["kind"],
            npst["keys"].numpy().astype(np.uint32),
            int(npst["pos"]),
            int(npst["has_gauss"]),
            float(npst["cached"]),
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


@dataclass
class TrainParts:
    """The objects whose state a checkpoint holds (``model`` unwrapped: no DDP, no compile)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    ema: ModelEMA | None = None
    extra: nn.Module | None = None  # trained but not the model (a feature-KD adapter)


def run_state(
    parts: TrainParts, state: TrainState, config: dict[str, Any], rng: Any
) -> dict[str, Any]:
    """The checkpoint dict of a run (``rng``: this process's RNG states or every rank's)."""
    ema = parts.ema
    return {
        "model": parts.model.state_dict(),
        "ema": ema.module.state_dict() if ema is not None else None,
        "ema_updates": ema.n_averaged.clone() if ema is not None else None,
        "optimizer": parts.optimizer.state_dict(),
        "scheduler": parts.scheduler.state_dict(),
        "scaler": parts.scaler.state_dict() if parts.scaler.is_enabled() else None,
        "extra": parts.extra.state_dict() if parts.extra is not None else None,
        "state": {
            "epoch": state.epoch,
            "iteration": state.iteration,
            "best_score": state.best_score,
            "history": state.history,
            "elapsed_s": state.elapsed_s,
            "train_s": state.train_s,
        },
        "rng": rng,
        "config": config,
        "ffseg_checkpoint": FORMAT_VERSION,
    }


def restore_run_state(ckpt: Mapping[str, Any], parts: TrainParts, rank: int = 0) -> TrainState:
    """Load a :func:`run_state` dict into ``parts`` and this rank's RNGs; returns the state."""
    parts.model.load_state_dict(ckpt["model"])
    parts.optimizer.load_state_dict(ckpt["optimizer"])
    parts.scheduler.load_state_dict(ckpt["scheduler"])
    if ckpt.get("scaler"):
        parts.scaler.load_state_dict(ckpt["scaler"])
    if parts.extra is not None and ckpt.get("extra") is not None:
        parts.extra.load_state_dict(ckpt["extra"])
    if parts.ema is not None and ckpt.get("ema") is not None:
        parts.ema.module.load_state_dict(ckpt["ema"])
        parts.ema.n_averaged.copy_(ckpt["ema_updates"])
    rng = ckpt["rng"]
    restore_rng_state(rng[rank] if isinstance(rng, list) else rng)
    s = ckpt["state"]
    return TrainState(
        int(s["epoch"]),
        int(s["iteration"]),
        float(s["best_score"]),
        list(s["history"]),
        elapsed_s=float(s.get("elapsed_s", 0.0)),
        train_s=float(s.get("train_s", 0.0)),
    )


class RunCheckpoint:
    """Writes a run's ``last.pt`` (and ``best.safetensors``): every rank's RNG states are
    gathered, rank 0 writes.

    :meth:`save` is a collective call under ``torch.distributed`` (every rank calls it).
    """

    def __init__(
        self,
        path: Path,
        parts: TrainParts,
        config: dict[str, Any],
        dist_info: DistInfo,
        model_config: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.parts = parts
        self.config = config
        self.dist_info = dist_info
        self.model_config = model_config
        self.write_s = 0.0  # how long the latest save took

    def check_finite(self) -> None:
        """Raise :class:`NonFiniteWeightsError` if the model or EMA weights are not finite."""
        ema = self.parts.ema
        bad = _non_finite(self.parts.model) + (_non_finite(ema.module) if ema else [])
        if bad:
            shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
            raise NonFiniteWeightsError(
                f"the weights hold NaN/inf values ({len(bad)} tensors: {shown}); {self.path} "
                "was not overwritten"
            )

    def save(self, state: TrainState) -> None:
        """Write ``last.pt`` (collective); refuses non-finite weights, keeping the old file."""
        start = time.perf_counter()
        self.check_finite()
        rng: Any = capture_rng_state()
        if self.dist_info.distributed:
            gathered: list[Any] = [None] * self.dist_info.world_size
            dist.all_gather_object(gathered, rng)
            rng = gathered
        if self.dist_info.is_main:
            save_checkpoint(run_state(self.parts, state, self.config, rng), self.path)
        self.write_s = time.perf_counter() - start

    def save_best(self, model: nn.Module, metadata: dict[str, str]) -> None:
        """``best.safetensors`` beside ``last.pt`` (rank 0 writes; no collective)."""
        if self.dist_info.is_main:
            save_weights(model.state_dict(), self.path.parent / BEST, metadata)
            if self.model_config is not None:
                atomic_write_json(self.path.parent / MODEL_CONFIG, self.model_config)


def load_run(resume: str | Path) -> tuple[Path, dict[str, Any]]:
    """``(run folder, checkpoint)`` of a run folder or of its ``last.pt``."""
    path = Path(resume)
    ckpt_path = path / CHECKPOINT if path.is_dir() else path
    return ckpt_path.parent, load_checkpoint(ckpt_path)
