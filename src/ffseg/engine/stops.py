"""Stopping a run without losing work: SIGINT (Ctrl-C) and SIGTERM (what clusters send before
killing a job) ask the loop to stop at the next step boundary, where :func:`ffseg.engine.fit`
writes ``last.pt`` and raises :class:`TrainingInterrupted`; a second Ctrl-C stops at once."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType, TracebackType

__all__ = ["StopRequests", "TrainingInterrupted"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(RuntimeError):
    """A signal stopped training after a checkpoint was written; ``exit_code`` is 128 + signal."""

    def __init__(self, signum: int, run_dir: Path, iteration: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(
            f"{name} received: stopped at iteration {iteration}, checkpoint saved in {run_dir}; "
            f"continue with: ffseg train --resume {run_dir}"
        )
        self.signum = signum
        self.exit_code = 128 + signum


class StopRequests:
    """While open (in the main thread), SIGINT/SIGTERM set :attr:`signum` instead of killing
    the process; a second SIGINT raises ``KeyboardInterrupt`` immediately."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()
