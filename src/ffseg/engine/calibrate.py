"""Budget recipes that fit the machine: a recipe's variant chosen from a few timed steps.

A recipe lists ``calibrate.candidates`` in order of preference (the best result when it gets
the iterations it needs), each with the settings it changes and ``min_iters``, the iterations
it needs within the budget (the evidence is in docs/benchmarks/training.md). At the start of a
budget run each candidate in turn trains one warm-up step and ``calibrate.steps`` timed steps on
random inputs of its crop and batch, with the run's own model, loss, optimizer and precision
(:func:`~ffseg.engine.step.train_one_epoch`); the first whose predicted iterations (the budget
left / its step time) reach its ``min_iters`` is chosen, and the candidates after it are not
timed. When none reaches its need, the one closest to it (largest predicted / needed) is.
The choice is deterministic given the step times, logged with why, recorded in the run
folder (``calibration.json``; ``calibrate.pick`` in ``config.yaml``), and ``--set
calibrate.pick=NAME`` pins it without timing (as a resumed run does).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ffseg.config import Config, apply_settings
from ffseg.engine.budget import Budget
from ffseg.engine.build import build_student, place_model, training_module
from ffseg.engine.data import TrainData
from ffseg.engine.distributed import DistInfo, from_rank0
from ffseg.engine.precision import Precision
from ffseg.engine.setup import build_training
from ffseg.engine.step import train_one_epoch

__all__ = ["CALIBRATION", "Calibration", "Candidate", "calibrated", "choose", "time_candidate"]

log = logging.getLogger(__name__)

CALIBRATION = "calibration.json"  # in the run folder: the measured step times and the choice
#: data.* keys a candidate may change without rebuilding the datasets (loader and crop only)
LOADER_KEYS = {
    "crop_size",
    "scale_range",
    "hflip",
    "color_jitter",
    "batch_size",
    "workers",
    "cache",
}


@dataclass(frozen=True)
class Candidate:
    """One variant of a budget recipe (an entry of ``calibrate.candidates``)."""

    name: str
    min_iters: int
    settings: dict[str, Any]

    @classmethod
    def of(cls, cfg: Config) -> list[Candidate]:
        return [
            cls(c["name"], int(c.get("min_iters", 1)), dict(c.get("set", {})))
            for c in cfg.calibrate.candidates
        ]

    def needs_new_data(self) -> bool:
        """Whether the settings change how the datasets are built (not only the loader)."""
        return any(
            k.startswith("data.") and k.split(".", 1)[1] not in LOADER_KEYS for k in self.settings
        )


@dataclass
class Calibration:
    """The choice among a recipe's candidates and the measurements behind it."""

    chosen: str
    reason: str
    seconds_left: float | None = None  # the budget left when calibration started
    timings: list[dict[str, Any]] = field(default_factory=list)  # one per timed candidate
    rebuild_data: bool = False  # the chosen settings change how the datasets are built

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose(
    candidates: Sequence[Candidate], step_seconds: Callable[[Candidate], float], seconds_left: float
) -> Calibration:
    """The first candidate whose predicted iterations ``seconds_left / step_seconds(c)`` reach
    its ``min_iters`` (later ones are not timed); else the one closest to its need."""
    timings: list[dict[str, Any]] = []
    for cand in candidates:
        step = float(step_seconds(cand))
        predicted = seconds_left / step if step > 0 else float("inf")
        timings.append(
            {"name": cand.name, "step_s": step, "predicted_iters": predicted,
             "min_iters": cand.min_iters}
        )  # fmt: skip
        if predicted >= cand.min_iters:
            why = (
                f"{step:.2f} s/step predicts {predicted:.0f} iterations in the {seconds_left:.0f} s "
                f"left, >= the {cand.min_iters} it needs"
            )
            if len(timings) > 1:
                why += "; " + "; ".join(_short(t) for t in timings[:-1])
            return Calibration(cand.name, why, seconds_left, timings)
    best = max(timings, key=lambda t: t["predicted_iters"] / t["min_iters"])
    why = "no candidate reaches its min_iters; the closest to its need: " + "; ".join(
        _short(t) for t in timings
    )
    return Calibration(best["name"], why, seconds_left, timings)


def _short(timing: dict[str, Any]) -> str:
    return (
        f"{timing['name']} {timing['step_s']:.2f} s/step -> {timing['predicted_iters']:.0f} "
        f"of {timing['min_iters']} iterations"
    )


def _random_batch(cfg: Config, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised random images and labels of the candidate's batch and crop."""
    batch, (h, w) = cfg.data.batch_size, cfg.data.crop_size
    images = torch.randn(batch, 3, h, w)
    shape = (batch,) if cfg.data.task == "classification" else (batch, h, w)
    return images, torch.randint(0, num_classes, shape)


def time_candidate(
    cfg: Config, data: TrainData, precision: Precision, dist_info: DistInfo
) -> float:
    """Median seconds of one training step of ``cfg`` (after a warm-up step), measured with the
    run's own step on random inputs; torch's RNG is left as found."""
    steps = cfg.calibrate.steps
    device = dist_info.device
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        model = place_model(build_student(cfg, data.num_classes), cfg, dist_info)
        budget = Budget(None, time.perf_counter())
        parts, criterion = build_training(cfg, model, data, precision, steps + 1, budget, dist_info)
        batch = _random_batch(cfg, data.num_classes)
        seconds: list[float] = []

        def record(scalars: dict[str, float]) -> bool:
            seconds.append(cfg.data.batch_size / scalars["img_s"])
            return False

        train_one_epoch(
            training_module(model, cfg, dist_info), criterion, parts.optimizer, parts.scheduler,
            [batch] * (steps + 1), device, scaler=parts.scaler, ema=parts.ema,
            grad_clip=cfg.optim.grad_clip, autocast_dtype=precision.autocast_dtype,
            channels_last=cfg.model.channels_last, on_step=record,
        )  # fmt: skip
    return statistics.median(seconds[1:])


def calibrated(
    cfg: Config,
    data: TrainData,
    precision: Precision,
    dist_info: DistInfo,
    started: float,
    timer: Callable[[Config], float] | None = None,
) -> tuple[Config, Calibration | None]:
    """``cfg`` with its chosen candidate's settings applied and ``calibrate.pick`` set (``cfg``
    unchanged without candidates). ``started``: the run's ``time.perf_counter()`` start (the
    budget counts from there); ``timer(candidate_cfg)``: seconds per step (default: measured
    by :func:`time_candidate`). Every rank gets rank 0's choice."""
    candidates = Candidate.of(cfg)
    if not candidates:
        return cfg, None
    by_name = {c.name: c for c in candidates}
    if cfg.calibrate.pick is not None:
        calibration = Calibration(cfg.calibrate.pick, "pinned by calibrate.pick")
    elif cfg.train.max_minutes is None:
        calibration = Calibration(candidates[0].name, "no train.max_minutes: the first candidate")
    else:
        measure = timer or (lambda c: time_candidate(c, data, precision, dist_info))
        left = cfg.train.max_minutes * 60.0 - (time.perf_counter() - started)

        def step_seconds(cand: Candidate) -> float:  # rank 0's time: every rank decides alike
            return from_rank0(measure(apply_settings(cfg, cand.settings, f"candidate {cand.name}")))

        calibration = choose(candidates, step_seconds, left)
    chosen = by_name[calibration.chosen]
    calibration.rebuild_data = chosen.needs_new_data()
    log.info("calibration chose %s: %s", chosen.name, calibration.reason)
    settings = {**chosen.settings, "calibrate.pick": chosen.name}
    return apply_settings(cfg, settings, f"candidate {chosen.name}"), calibration
