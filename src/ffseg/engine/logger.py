"""A run's record on disk and on screen: the run folder, ``config.yaml``, ``summary.csv``,
TensorBoard scalars, progress bars and log lines. Only rank 0 writes; other ranks get a
:class:`RunLogger` that does nothing."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from ffseg._io import atomic_write_text, check_no_symlinks
from ffseg.config import Config, save_config

__all__ = ["CONFIG", "SUMMARY", "SUMMARY_FIRST", "TENSORBOARD", "RunLogger"]

log = logging.getLogger(__name__)

CONFIG = "config.yaml"  # the resolved recipe
SUMMARY = "summary.csv"  # one row per epoch
TENSORBOARD = "tb"  # TensorBoard event files

#: The first columns of ``summary.csv``, in this order (scores follow, sorted by name).
SUMMARY_FIRST = ("epoch", "iteration", "seconds", "train_loss", "lr", "img_s")


def _tensorboard(folder: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.info("tensorboard is not installed (pip install tensorboard): no TensorBoard logs")
        return None
    return SummaryWriter(str(folder), purge_step=purge_step)


class RunLogger:
    """Creates the run folder (``config.yaml``) and records the run; a context manager that
    closes TensorBoard and any progress bar. Disabled (``enabled=False``) it does nothing."""

    def __init__(
        self, run_dir: Path, cfg: Config, *, enabled: bool, purge_step: int | None = None
    ) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self.log_every = max(cfg.log.log_every, 1)
        self.show_progress = enabled and cfg.log.progress
        self.bar: Any = None
        self.writer: Any = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / CONFIG)
        log.info("run folder: %s", run_dir)
        if cfg.log.tensorboard:
            self.writer = _tensorboard(check_no_symlinks(run_dir, TENSORBOARD), purge_step)

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end_epoch()
        if self.writer is not None:
            self.writer.close()

    def start_epoch(self, label: str, done: int, steps: int) -> None:
        """A progress bar titled ``label`` for ``steps`` more iterations of an epoch already
        ``done`` in part."""
        if self.show_progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=done + steps,
                initial=done,
                desc=label,
                dynamic_ncols=True,
                leave=False,
            )

    def log_step(self, scalars: dict[str, float], iteration: int) -> None:
        """One iteration's scalars: progress bar, and TensorBoard every ``log.log_every``."""
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(
                loss=f"{scalars['loss']:.4f}",
                lr=f"{scalars['lr']:.2e}",
                img_s=f"{scalars['img_s']:.1f}",
            )
        if self.writer is not None and iteration % self.log_every == 0:
            for key, value in scalars.items():
                self.writer.add_scalar(f"train/{key}", value, iteration)

    def end_epoch(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def log_scalars(self, scalars: dict[str, float], iteration: int) -> None:
        """Scalars (e.g. an evaluation's) to TensorBoard."""
        if self.writer is not None:
            for key, value in scalars.items():
                self.writer.add_scalar(key, value, iteration)

    def log_epoch(self, row: dict[str, float], progress: str, score_name: str) -> None:
        """The end-of-epoch line: ``progress`` (where the run stands), loss, LR, speed and the
        scores (in %)."""
        keys = (score_name, f"{score_name}_ema")
        scores = "".join(f"  {k} {row[k] * 100:.2f}" for k in keys if k in row)
        self.info(
            "%s  loss %.4f  lr %.2e  %.1f img/s%s",
            progress,
            row["train_loss"],
            row["lr"],
            row["img_s"],
            scores,
        )

    def info(self, message: str, *args: Any) -> None:
        """A log line (rank 0 only)."""
        if self.enabled:
            log.info(message, *args)

    def warning(self, message: str, *args: Any) -> None:
        """A warning (rank 0 only)."""
        if self.enabled:
            log.warning(message, *args)

    def write_summary(self, history: list[dict[str, float]]) -> None:
        """``summary.csv``: one row per finished epoch; the same column order in every run
        (:data:`SUMMARY_FIRST`, then the other keys sorted)."""
        if not (self.enabled and history):
            return
        seen = {k for row in history for k in row}
        keys = [k for k in SUMMARY_FIRST if k in seen] + sorted(seen - set(SUMMARY_FIRST))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
        atomic_write_text(self.run_dir / SUMMARY, buf.getvalue())
