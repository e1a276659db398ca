"""Exclusive run folders: created atomically, locked while a process trains in them.

:func:`claim_run_dir` creates ``<output_dir>/<name>`` with ``mkdir`` (no ``exist_ok``), trying
``<name>-2``, ``<name>-3``... until one is new, so two runs started at once never share a
folder. :class:`RunLock` holds ``fcntl.flock`` on ``<run>/.lock`` (holding the PID) while the run
trains; ``--resume`` of a locked run is refused, naming the PID. The OS releases the lock when
the process ends, however it ends.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import TracebackType

from ffseg._io import FileWriteError

__all__ = ["LOCK", "RunLock", "RunLockedError", "claim_run_dir"]

LOCK = ".lock"
MAX_SUFFIX = 10_000

try:  # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class RunLockedError(RuntimeError):
    """Another live process trains in the run folder."""


def claim_run_dir(output_dir: str | Path, name: str) -> Path:
    """Create and return a new run folder ``output_dir/name`` (or ``name-2``, ``name-3``...)."""
    base = Path(output_dir)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(
            exc.errno or 0,
            f"cannot create the output folder {str(base)!r}: {exc.strerror or exc}; choose a "
            "writable train.output_dir (--output-dir)",
        ) from exc
    for k in range(1, MAX_SUFFIX):
        folder = base / (name if k == 1 else f"{name}-{k}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
        except OSError as exc:
            raise FileWriteError(
                exc.errno or 0,
                f"cannot create the run folder {str(folder)!r}: {exc.strerror or exc}; choose a "
                "writable train.output_dir (--output-dir)",
            ) from exc
    raise FileWriteError(errno.EEXIST, f"{str(base)!r} holds too many runs named {name!r}")


class RunLock:
    """``flock`` on ``<run_dir>/.lock`` for as long as the context is open (a no-op when
    ``enabled`` is False, e.g. on ranks other than 0)."""

    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.path = Path(run_dir) / LOCK
        self.enabled = enabled and fcntl is not None
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        if not self.enabled:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise RunLockedError(
                    f"run {str(self.path.parent)!r} is in use by a running training process "
                    f"(PID {holder}); wait for it to finish or stop it (Ctrl-C saves a "
                    "checkpoint), then resume."
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
