"""``results.png``: a run's curves (training loss, LR and validation score against iteration
and against time), rewritten atomically as the run goes.

The points come from the run's ``summary.csv`` rows (one per epoch: ``iteration``,
``seconds``, ``train_loss``, ``lr`` and the scores) and, for finer loss and LR curves, from the
steps this process logged (every ``log.log_every`` iterations). Drawing needs matplotlib (the
``plot`` extra); without it the run logs one line and writes no picture.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ffseg._io import atomic_write

__all__ = ["RESULTS", "ResultsPlot"]

log = logging.getLogger(__name__)

RESULTS = "results.png"
MIN_INTERVAL_S = 30.0  # redraw at most this often (the last drawing is always made)


def _finite(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


class ResultsPlot:
    """Draws ``run_dir/results.png`` from the run's rows and logged steps (rank 0 only)."""

    def __init__(self, run_dir: Path, score_name: str, enabled: bool = True) -> None:
        self.path = run_dir / RESULTS
        self.score_name = score_name
        self.enabled = enabled
        self.steps: list[tuple[float, float, float]] = []  # (iteration, loss, lr)
        self._last = -math.inf
        if enabled:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                log.info("matplotlib is not installed (pip install 'ffseg[plot]'): no results.png")
                self.enabled = False

    def add_step(self, iteration: int, loss: float, lr: float) -> None:
        """One logged step's loss and LR."""
        if self.enabled and _finite((loss, lr)):
            self.steps.append((float(iteration), float(loss), float(lr)))

    def update(self, history: Sequence[dict[str, float]], final: bool = False) -> Path | None:
        """Redraw from ``history`` (the ``summary.csv`` rows) unless the last drawing is under
        :data:`MIN_INTERVAL_S` old (``final`` always draws). Returns the file when drawn."""
        now = time.monotonic()
        if not (self.enabled and history) or (not final and now - self._last < MIN_INTERVAL_S):
            return None
        self._last = now
        figure = self._draw(history)
        return atomic_write(self.path, lambda tmp: figure.savefig(tmp, format="png", dpi=80))

    def _draw(self, history: Sequence[dict[str, float]]) -> Any:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(12, 6.5), layout="constrained")
        axes = figure.subplots(2, 3)
        iters = [r["iteration"] for r in history]
        minutes = [r.get("seconds", math.nan) / 60 for r in history]
        score = self.score_name
        scored = [
            (r["iteration"], r.get("seconds", math.nan) / 60, r[score])
            for r in history
            if score in r
        ]
        step_x = [s[0] for s in self.steps]
        curves = (
            ("train loss", "train_loss", 1),
            ("learning rate", "lr", 2),
        )
        for col, (title, key, index) in enumerate(curves):
            values = [r.get(key, math.nan) for r in history]
            ax = axes[0][col]
            if self.steps:
                ax.plot(step_x, [s[index] for s in self.steps], lw=1, alpha=0.6, label="steps")
            ax.plot(iters, values, "o-", lw=1.5, label="epochs")
            ax.set(title=f"{title} vs iteration", xlabel="iteration")
            ax.legend(fontsize="small")
            axes[1][col].plot(minutes, values, "o-", lw=1.5)
            axes[1][col].set(title=f"{title} vs time", xlabel="minutes")
        for row, xs in enumerate(([s[0] for s in scored], [s[1] for s in scored])):
            ax = axes[row][2]
            ax.plot(xs, [s[2] * 100 for s in scored], "o-", color="tab:green")
            ax.set(
                title=f"val {score} (%) vs {'iteration' if row == 0 else 'time'}",
                xlabel="iteration" if row == 0 else "minutes",
            )
            if not scored:
                ax.text(0.5, 0.5, "not evaluated yet", ha="center", va="center",
                        transform=ax.transAxes)  # fmt: skip
        figure.suptitle(f"{self.path.parent.name}: {int(iters[-1])} iterations")
        return figure
