"""``train.max_minutes`` as a schedule: a wall-clock budget that drives the LR and the stop.

A :class:`Budget` measures the run's elapsed time continuously (building, training, checkpoints
and evaluations all count; a resumed run adds the time its checkpoint had used). Training ends
at ``budget - reserve``: the reserve is the estimated time of the final evaluation and save
(:func:`estimate_final_seconds`, from a timed pass over a few validation samples), so the run
evaluates once and saves before the deadline. The LR schedule is a function of
:meth:`Budget.fraction` (elapsed / training window), so it finishes its decay at the end of
training, whatever the speed of the machine. Rank 0's clock decides for every rank.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader, Dataset, Subset

from ffseg.data.samplers import DistributedEvalSampler
from ffseg.data.views import Transformed
from ffseg.engine.distributed import DistInfo, from_rank0

__all__ = ["Budget", "estimate_final_seconds"]

#: Safety factor on the estimated final evaluation time (the estimate is measured after a
#: warm-up sample, so it is close: a larger margin only shortens the LR decay).
RESERVE_MARGIN = 1.05
#: Seconds added to the reserve for writing the best weights (the two checkpoint writes at the
#: end are counted from the measured duration of the latest one, :attr:`Budget.write_s`).
SAVE_SECONDS = 0.5


class Budget:
    """The wall-clock budget of a run (``minutes=None``: no budget, never reached).

    ``start`` is a ``time.perf_counter()`` value of this process's start; ``spent`` the seconds
    a resumed run had already used. :meth:`tick` (a collective call under ``torch.distributed``)
    reads rank 0's clock once per iteration; :attr:`reached` turns True when the next iteration
    would end after the training window (``seconds - reserve``).
    """

    def __init__(
        self,
        minutes: float | None,
        start: float,
        spent: float = 0.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.clock = clock  # a time.perf_counter-like function (replaceable in tests)
        self.seconds = None if minutes is None else minutes * 60.0
        self.start = start
        self.spent = spent
        self.reserve = 0.0  # seconds kept for the final evaluation and save
        self.write_s = 0.0  # duration of the latest checkpoint write (two more at the end)
        self.now = spent  # rank 0's elapsed seconds at the last tick
        self.step_s = 0.0  # a recent iteration's duration (the smaller of the last two)
        self._last_diff = math.inf
        self.reached = False

    @property
    def enabled(self) -> bool:
        return self.seconds is not None

    @property
    def train_end(self) -> float:
        """Elapsed seconds at which training stops (the budget minus the reserve for the final
        evaluation and the two final checkpoint writes)."""
        return max((self.seconds or 0.0) - self.reserve - 2 * self.write_s, 0.0)

    def elapsed(self) -> float:
        """This process's elapsed budget time in seconds (not synchronised)."""
        return self.spent + self.clock() - self.start

    def _synced(self) -> float:
        return from_rank0(self.elapsed()) if self.enabled else self.elapsed()

    def resume(self, spent: float) -> None:
        """Continue a run whose checkpoint had used ``spent`` seconds of its budget."""
        self.spent = spent
        self.now = max(self.now, spent)

    def mark(self) -> None:
        """Synchronise the clock without counting an iteration (e.g. before the first one)."""
        self.now = self._synced()
        self._last_diff = math.inf

    def tick(self) -> bool:
        """After an iteration: update the clock; True when training must stop (a collective
        call when the budget is enabled)."""
        now = self._synced()
        diff, self.now = now - self.now, now
        self.step_s, self._last_diff = min(diff, self._last_diff), diff
        if self.enabled:
            self.reached = self.now + self.step_s > self.train_end
        return self.reached

    def fraction(self) -> float:
        """Share of the training window that will have been used at the end of the next
        iteration (last tick + a recent iteration's duration), in [0, 1]; 0 without budget."""
        if not self.enabled:
            return 0.0
        end = self.train_end
        return 1.0 if end <= 0 else min(max((self.now + self.step_s) / end, 0.0), 1.0)

    def reserve_warning(self) -> str | None:
        """A warning when the final evaluation's reserve takes more than half of the budget
        (a slow model, a large validation set or a very short budget); else ``None``."""
        if not self.enabled or not self.seconds or self.reserve <= 0.5 * self.seconds:
            return None
        return (
            f"the final evaluation is estimated at {self.reserve:.0f} s of the "
            f"{self.seconds:.0f} s budget (train.max_minutes={self.seconds / 60:g}), so training "
            f"gets at most {max(self.seconds - self.reserve, 0):.0f} s: raise "
            "train.max_minutes, or evaluate fewer images (data.val_subset)"
        )

    def report(self, train_seconds: float) -> str:
        """A log line: budget used and the share of it spent training."""
        total = self.elapsed()
        if not self.enabled:
            return f"{total / 60:.2f} min, {train_seconds / max(total, 1e-9):.1%} training"
        budget = self.seconds or 1.0
        return (
            f"budget {budget / 60:.2f} min: used {total / 60:.2f} min ({total / budget:.1%}), "
            f"training {train_seconds / 60:.2f} min ({train_seconds / budget:.1%} of the budget), "
            f"final evaluation reserve {self.reserve:.1f} s"
        )


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def estimate_final_seconds(
    evaluate: Callable[[DataLoader], Any],
    val: Dataset | None,
    transform: Any,
    dist_info: DistInfo,
    *,
    models: int = 1,
    overlays: int = 0,
    samples: int = 2,
) -> float:
    """Seconds the final evaluation and save will take: ``evaluate(loader)`` timed over
    ``samples`` validation images per rank (after one untimed warm-up image, so one-off costs
    such as kernel selection for a new input size are not counted), scaled to the whole shard,
    times ``models`` (2 with EMA), plus ``overlays`` single-image predictions, a margin and the
    weights write."""
    if val is None or len(val) == 0:  # type: ignore[arg-type]
        return SAVE_SECONDS
    world, n_val = dist_info.world_size, len(val)  # type: ignore[arg-type]

    def loader(start: int, count: int) -> tuple[DataLoader, int]:
        dataset = Transformed(Subset(val, range(start, start + count)), transform)
        sampler = DistributedEvalSampler(dataset, world, dist_info.rank)
        return DataLoader(dataset, batch_size=1, sampler=sampler), len(sampler)

    warm = world if n_val > world else 0  # one warm-up image per rank when there are more
    if warm:
        evaluate(loader(0, warm)[0])
    timed, count = loader(warm, min(n_val - warm, samples * world))
    per_sample = from_rank0(_timed(lambda: evaluate(timed)) / max(count, 1))
    images = math.ceil(n_val / world) * models + overlays
    return per_sample * images * RESERVE_MARGIN + SAVE_SECONDS
